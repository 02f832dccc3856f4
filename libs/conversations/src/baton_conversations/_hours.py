"""Business hours per department: when people answer, in the department's time zone.

Free of I/O, every function takes the time: the router asks whether a department is open
(its out-of-hours fallback), the human queue runs its SLA clocks in business time and tells
a user when people are back. Both read the same configuration (``BUSINESS_HOURS`` or
``BUSINESS_HOURS_FILE``), so they agree on when a department is open.

A department without hours (and no ``default``) is always open: its clocks run on wall time.
Arithmetic happens in UTC on the open intervals of each local day, so a day that a change
to or from daylight saving time makes 23 or 25 hours long counts as long as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 800
"""How far ahead the next opening is looked for; a schedule with none that far is refused."""
OutOfHours = Literal["wait", "ai"]
"""What happens to a conversation the router would give to people while they are away:
``wait`` for them (a ticket, and the user told when they are back), or ``ai``: the AI keeps it."""

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
Span = tuple[int, int]
"""Minutes from local midnight: where an opening starts, and where it ends (up to 1440)."""


def _days(spec: str) -> list[int]:
    """``mon``, ``mon-fri``, ``sat,sun`` or ``fri-mon`` as weekday numbers (Monday 0)."""
    found: list[int] = []
    for part in spec.casefold().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{spec!r}: days are mon, tue, wed, thu, fri, sat, sun or a range")
        start = DAYS.index(first)
        end = DAYS.index(last) if last else start
        found += [(start + i) % 7 for i in range((end - start) % 7 + 1)]
    return found


def _span(text: str) -> Span:
    match = _RANGE.match(text)
    if match is None:
        raise ValueError(f"{text!r}: opening hours are written HH:MM-HH:MM, e.g. 09:00-17:30")
    sh, sm, eh, em = (int(g) for g in match.groups())
    start, end = sh * 60 + sm, eh * 60 + em
    if sm > 59 or em > 59 or not 0 <= start < end <= 24 * 60:
        raise ValueError(
            f"{text!r}: a range starts before it ends, within one day (up to 24:00); "
            "split a range over midnight in two"
        )
    return start, end


class OpeningHours(BaseModel):
    """One department's hours: its time zone, weekly hours, holidays, and what happens to
    a conversation that arrives while people are away."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = Field(default="UTC", description="An IANA time zone, e.g. `Europe/Berlin`.")
    hours: dict[str, str | list[str]] = Field(
        description='Opening hours by day or days (`mon`, `mon-fri`, `sat,sun`): "09:00-17:00" '
        "or a list of ranges."
    )
    holidays: tuple[date, ...] = Field(default=(), description="Local dates closed all day.")
    out_of_hours: OutOfHours = "wait"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _usable(self) -> OpeningHours:
        if not any(self._week):
            raise ValueError("no opening hours: name at least one day with a range")
        return self

    @cached_property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _week(self) -> tuple[tuple[Span, ...], ...]:
        week: list[list[Span]] = [[] for _ in DAYS]
        for spec, ranges in self.hours.items():
            for day in _days(spec):
                week[day] += [_span(r) for r in ([ranges] if isinstance(ranges, str) else ranges)]
        return tuple(tuple(sorted(spans)) for spans in week)

    @cached_property
    def _closed(self) -> frozenset[date]:
        return frozenset(self.holidays)

    def local(self, at: datetime) -> datetime:
        """``at`` in the department's time zone."""
        return at.astimezone(self._zone)

    def _wall(self, day: date, minutes: int) -> datetime:
        """The UTC instant of local ``day`` at ``minutes`` past midnight."""
        naive = datetime.combine(day, time()) + timedelta(minutes=minutes)
        return naive.replace(tzinfo=self._zone).astimezone(UTC)

    def openings(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals (UTC) that end after ``since``, in order."""
        day = self.local(since).date()
        for offset in range(HORIZON_DAYS):
            current = day + timedelta(days=offset)
            if current in self._closed:
                continue
            for start, end in self._week[current.weekday()]:
                opens, closes = self._wall(current, start), self._wall(current, end)
                if closes > since:
                    yield opens, closes
        raise ValueError(f"no opening hours in the {HORIZON_DAYS} days from {since.isoformat()}")

    def is_open(self, at: datetime) -> bool:
        return self.next_open(at) == at

    def next_open(self, at: datetime) -> datetime:
        """``at`` when people are at work then, else when they next are."""
        opens, _ = next(self.openings(at))
        return max(opens, at)

    def add(self, start: datetime, seconds: float) -> datetime:
        """When ``seconds`` of business time from ``start`` have passed."""
        left = timedelta(seconds=seconds)
        for opens, closes in self.openings(start):
            begin = max(opens, start)
            if left <= closes - begin:
                return begin + left
            left -= closes - begin
        raise AssertionError("openings() ends by raising")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> float:
        """Seconds of business time from ``start`` to ``end`` (0 when ``end`` is not later)."""
        total = timedelta()
        if end <= start:
            return 0.0
        for opens, closes in self.openings(start):
            if opens >= end:
                break
            total += min(closes, end) - max(opens, start)
        return total.total_seconds()


class BusinessHours(BaseModel):
    """Every department's hours: ``departments`` by name (any case), else ``default``;
    neither: always open."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: OpeningHours | None = None
    departments: dict[str, OpeningHours] = Field(default_factory=dict)

    @cached_property
    def _by_name(self) -> dict[str, OpeningHours]:
        return {name.casefold(): hours for name, hours in self.departments.items()}

    def of(self, department: str | None) -> OpeningHours | None:
        """The hours of ``department``; None: always open."""
        if department is not None:
            found = self._by_name.get(department.casefold())
            if found is not None:
                return found
        return self.default

    def is_open(self, department: str | None, at: datetime) -> bool:
        hours = self.of(department)
        return hours is None or hours.is_open(at)

    def add(self, department: str | None, start: datetime, seconds: float) -> datetime:
        """A clock of ``seconds`` started at ``start``: when it runs out, in business time."""
        hours = self.of(department)
        if hours is None:
            return start + timedelta(seconds=seconds)
        return hours.add(start, seconds)

    def between(self, department: str | None, start: datetime, end: datetime) -> float:
        hours = self.of(department)
        if hours is None:
            return max(0.0, (end - start).total_seconds())
        return hours.between(start, end)


ALWAYS_OPEN = BusinessHours()


class BusinessHoursSettings(BaseSettings):
    """Business hours per department (``BUSINESS_*``), shared by the router (its
    out-of-hours fallback) and the human queue (SLA clocks in business time, when people
    are back). Without them every department is always open. See
    [human-queue.md](human-queue.md#business-hours)."""

    model_config = SettingsConfigDict(env_prefix="BUSINESS_", extra="ignore")

    hours_file: Path | None = Field(
        default=None,
        description="YAML or JSON file with `default:` and `departments:` hours.",
    )
    hours: str | None = Field(
        default=None, description="The same as inline JSON; wins over `BUSINESS_HOURS_FILE`."
    )

    @model_validator(mode="after")
    def _readable(self) -> BusinessHoursSettings:
        self.table()  # refused at start-up, not at the first conversation out of hours
        return self

    def table(self) -> BusinessHours:
        if self.hours:
            return BusinessHours.model_validate(json.loads(self.hours))
        if self.hours_file:
            return BusinessHours.model_validate(yaml.safe_load(self.hours_file.read_text()) or {})
        return ALWAYS_OPEN
