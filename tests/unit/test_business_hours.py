"""Business hours (baton_conversations): open or not, when people are back, and clocks that
count open hours only, across nights, weekends, holidays and changes of daylight saving
time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from baton_conversations import ALWAYS_OPEN, BusinessHours, BusinessHoursSettings, OpeningHours

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def office(**fields: object) -> OpeningHours:
    """Monday to Friday, 09:00 to 17:00 in Berlin, unless ``fields`` say otherwise."""
    return OpeningHours.model_validate(
        {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}, **fields}
    )


def hours(seconds: float) -> float:
    return seconds / 3600


def test_open_during_the_day_closed_at_night_and_at_the_weekend() -> None:
    hours_ = office()
    assert hours_.is_open(berlin(2026, 3, 4, 9, 0))  # a Wednesday, as the doors open
    assert hours_.is_open(berlin(2026, 3, 4, 16, 59))
    assert not hours_.is_open(berlin(2026, 3, 4, 17, 0))  # closing time is closed
    assert not hours_.is_open(berlin(2026, 3, 4, 8, 59))
    assert not hours_.is_open(berlin(2026, 3, 7, 12, 0))  # Saturday


def test_the_next_opening_after_a_night_and_after_a_weekend() -> None:
    hours_ = office()
    assert hours_.next_open(berlin(2026, 3, 4, 20, 0)) == berlin(2026, 3, 5, 9, 0)
    assert hours_.next_open(berlin(2026, 3, 6, 17, 30)) == berlin(2026, 3, 9, 9, 0)  # Fri → Mon
    at_work = berlin(2026, 3, 4, 11, 0)
    assert hours_.next_open(at_work) == at_work


def test_a_clock_stops_at_night_and_over_the_weekend() -> None:
    hours_ = office()
    # Friday 16:00 plus two business hours: one on Friday, one on Monday morning.
    assert hours_.add(berlin(2026, 3, 6, 16, 0), 2 * 3600) == berlin(2026, 3, 9, 10, 0)
    # Started at night: the clock runs from the morning.
    assert hours_.add(berlin(2026, 3, 4, 23, 0), 1800) == berlin(2026, 3, 5, 9, 30)
    # Exactly the rest of the day ends at closing time.
    assert hours_.add(berlin(2026, 3, 4, 16, 0), 3600) == berlin(2026, 3, 4, 17, 0)
    assert hours(hours_.between(berlin(2026, 3, 6, 16, 0), berlin(2026, 3, 9, 10, 0))) == 2


def test_holidays_are_closed_all_day() -> None:
    hours_ = office(holidays=["2026-12-24", "2026-12-25"])
    assert not hours_.is_open(berlin(2026, 12, 24, 12, 0))
    # Wednesday 23rd 16:30 plus an hour: half an hour then, half an hour after Christmas
    # (Thursday 24th and Friday 25th closed, then the weekend).
    assert hours_.add(berlin(2026, 12, 23, 16, 30), 3600) == berlin(2026, 12, 28, 9, 30)
    assert hours_.next_open(berlin(2026, 12, 23, 18, 0)) == berlin(2026, 12, 28, 9, 0)


def test_a_day_with_a_lunch_break_and_days_of_their_own() -> None:
    hours_ = office(hours={"mon-fri": ["09:00-12:00", "13:00-17:00"], "sat": "10:00-14:00"})
    assert not hours_.is_open(berlin(2026, 3, 4, 12, 30))
    assert hours_.add(berlin(2026, 3, 4, 11, 30), 3600) == berlin(2026, 3, 4, 13, 30)
    assert hours_.next_open(berlin(2026, 3, 6, 18, 0)) == berlin(2026, 3, 7, 10, 0)
    assert hours_.add(berlin(2026, 3, 7, 13, 0), 2 * 3600) == berlin(2026, 3, 9, 10, 0)


def test_a_range_of_days_may_wrap_around_the_week() -> None:
    hours_ = office(hours={"fri-mon": "10:00-12:00"})
    assert hours_.is_open(berlin(2026, 3, 8, 11, 0))  # Sunday
    assert not hours_.is_open(berlin(2026, 3, 4, 11, 0))  # Wednesday


def test_the_short_night_into_summer_time_is_counted_as_it_is() -> None:
    """Berlin moves its clocks from 02:00 to 03:00 on 29 March 2026: that day has 23 hours."""
    always = office(hours={"mon-sun": "00:00-24:00"})
    start = berlin(2026, 3, 28, 12, 0)
    end = berlin(2026, 3, 29, 12, 0)
    assert hours(always.between(start, end)) == 23
    assert always.add(start, 23 * 3600) == end
    # Wall-clock opening hours stay on the wall clock: 09:00 is 08:00 UTC in winter and
    # 07:00 UTC in summer.
    hours_ = office()
    assert hours_.next_open(berlin(2026, 3, 27, 18, 0)).astimezone(UTC).hour == 7
    assert hours_.next_open(berlin(2026, 3, 26, 18, 0)).astimezone(UTC).hour == 8
    # Friday 16:00 CET plus two hours ends on Monday at 10:00 CEST, across the change.
    assert hours_.add(berlin(2026, 3, 27, 16, 0), 2 * 3600) == berlin(2026, 3, 30, 10, 0)


def test_the_long_night_back_to_winter_time_is_counted_as_it_is() -> None:
    """New York goes from 02:00 back to 01:00 on 1 November 2026: that day has 25 hours."""
    always = OpeningHours(timezone="America/New_York", hours={"mon-sun": "00:00-24:00"})
    start = datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK)
    midnight = datetime(2026, 11, 2, 0, 0, tzinfo=NEW_YORK)
    assert hours(always.between(start, midnight)) == 25
    # 24 real hours after midnight it is 23:00 on the same day.
    assert always.add(start, 24 * 3600) == datetime(2026, 11, 1, 23, 0, tzinfo=NEW_YORK)
    assert always.add(start, 25 * 3600) == midnight


def test_every_department_has_its_hours_else_the_default_else_always_open() -> None:
    table = BusinessHours.model_validate(
        {
            "default": {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}},
            "departments": {
                "Billing": {
                    "timezone": "America/New_York",
                    "hours": {"mon-sun": "08:00-20:00"},
                    "out_of_hours": "ai",
                }
            },
        }
    )
    sunday_noon_ny = datetime(2026, 3, 8, 12, 0, tzinfo=NEW_YORK)
    assert table.is_open("billing", sunday_noon_ny)  # any case
    assert not table.is_open("shipping", sunday_noon_ny)  # the default
    assert not table.is_open(None, sunday_noon_ny)
    billing = table.of("BILLING")
    assert billing is not None
    assert billing.out_of_hours == "ai"
    assert table.of("shipping") == table.default

    assert ALWAYS_OPEN.of("billing") is None
    start = datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
    assert ALWAYS_OPEN.add("billing", start, 90) == start + timedelta(seconds=90)
    assert ALWAYS_OPEN.between("billing", start, start + timedelta(hours=2)) == 7200
    assert ALWAYS_OPEN.is_open("billing", start)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"hours": {"mon-fri": "9-17"}}, "HH:MM-HH:MM"),
        ({"hours": {"mon-fri": "17:00-09:00"}}, "over midnight"),
        ({"hours": {"weekdays": "09:00-17:00"}}, "days are mon"),
        ({"hours": {}}, "no opening hours"),
        ({"out_of_hours": "later"}, "wait"),
    ],
)
def test_a_schedule_that_makes_no_sense_is_refused(
    fields: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ValidationError, match=fragment):
        office(**fields)


def test_a_schedule_open_on_no_day_of_the_next_two_years_gives_up() -> None:
    closed = office(
        hours={"mon": "09:00-10:00"},
        holidays=[date(2026, 3, 2) + timedelta(weeks=w) for w in range(120)],
    )
    with pytest.raises(ValueError, match="no opening hours"):
        closed.next_open(berlin(2026, 3, 1, 12, 0))


def test_settings_read_inline_json_over_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hours.yaml"
    path.write_text(
        "departments:\n  billing:\n    timezone: Europe/Berlin\n    hours:\n"
        '      mon-fri: "09:00-17:00"\n'
    )
    from_file = BusinessHoursSettings(hours_file=path).table()
    assert from_file.of("billing") is not None

    inline = json.dumps({"default": {"hours": {"mon-sun": "00:00-24:00"}}})
    both = BusinessHoursSettings(hours_file=path, hours=inline).table()
    assert both.of("billing") == both.default  # the inline one alone
    assert BusinessHoursSettings().table() is ALWAYS_OPEN

    with pytest.raises(ValidationError, match="unknown time zone"):
        BusinessHoursSettings(hours=json.dumps({"default": {"timezone": "x", "hours": {}}}))
