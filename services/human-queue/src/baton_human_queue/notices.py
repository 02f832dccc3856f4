"""Baton's notices to the user, free of I/O: which are on, in which words.

The queue tells the user where they stand as their conversation moves between the AI and
people: it was handed to people (``handoff``, with the place in the queue and the expected
wait, or when people are back), the AI is asking a colleague (``checking``), an agent
joined (``agent_joined``), the conversation went back to the AI (``handback``) or was
resolved (``resolved``), and, where a department wants it, a request for a 1-5 rating
(``rating``).

Each notice is on or off per department and locale, and worded by a template per locale:
a department's words, then everyone's, for the thread's locale (``de-CH``, then ``de``),
then the default locale's, then the built-in English. Templates name their placeholders in
braces (``{agent_name}``); an unknown one stops the queue at start-up, so a typo is found by
whoever configures it, not by a customer.
"""

from __future__ import annotations

import json
import math
import statistics
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from baton_contracts import NoticeKind

NOTICE_KINDS: tuple[NoticeKind, ...] = get_args(NoticeKind)

Phrase = Literal[
    "handoff",
    "handoff_closed",
    "checking",
    "agent_joined",
    "handback",
    "resolved",
    "rating",
    "wait_soon",
    "wait_minutes",
    "wait_hours",
    "back_today",
    "back_tomorrow",
    "back_weekday",
    "back_date",
]
PLACEHOLDERS: Mapping[Phrase, frozenset[str]] = {
    "handoff": frozenset({"position", "wait"}),
    "handoff_closed": frozenset({"position", "back_at"}),
    "checking": frozenset(),
    "agent_joined": frozenset({"agent_name"}),
    "handback": frozenset({"agent_name"}),
    "resolved": frozenset({"agent_name"}),
    "rating": frozenset({"agent_name"}),
    "wait_soon": frozenset(),
    "wait_minutes": frozenset({"minutes"}),
    "wait_hours": frozenset({"hours"}),
    "back_today": frozenset({"time"}),
    "back_tomorrow": frozenset({"time"}),
    "back_weekday": frozenset({"weekday", "time"}),
    "back_date": frozenset({"date", "time"}),
}
"""What each template may name. ``handoff_closed`` is the hand-off's wording while people
are away; the ``wait_*`` and ``back_*`` phrases fill ``{wait}`` and ``{back_at}``."""

MIN_WAIT_SAMPLES = 3
"""Recent claims needed before an expected wait is given ("soon" below that)."""
HOURS_FROM_MINUTES = 90
"""From this many minutes on, a wait is said in hours."""


class InvalidTemplateError(ValueError):
    pass


def check_template(phrase: Phrase, text: str) -> str:
    """``text`` if it names only the placeholders ``phrase`` may use, with braces doubled
    for a literal one; else :class:`InvalidTemplateError`, naming what is wrong."""
    allowed = PLACEHOLDERS[phrase]
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InvalidTemplateError(f"{phrase}: {exc} (write {{{{ and }}}} for a brace)") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            names = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "none"
            raise InvalidTemplateError(
                f"{phrase}: unknown placeholder {{{name}}} in {text!r}; it may use {names}"
            )
    return text


class Texts(BaseModel):
    """One locale's words, and which notices it enables or disables for users of that locale
    (``enable``, ``disable``: not ``on``/``off``, which YAML reads as booleans). A text left
    out falls back (see the module)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enable: tuple[NoticeKind, ...] = ()
    disable: tuple[NoticeKind, ...] = ()
    handoff: str | None = None
    handoff_closed: str | None = None
    checking: str | None = None
    agent_joined: str | None = None
    handback: str | None = None
    resolved: str | None = None
    rating: str | None = None
    wait_soon: str | None = None
    wait_minutes: str | None = None
    wait_hours: str | None = None
    back_today: str | None = None
    back_tomorrow: str | None = None
    back_weekday: str | None = None
    back_date: str | None = None
    weekdays: tuple[str, str, str, str, str, str, str] | None = Field(
        default=None, description="Monday to Sunday, for `{weekday}`."
    )

    @model_validator(mode="after")
    def _valid(self) -> Texts:
        for phrase in PLACEHOLDERS:
            text = getattr(self, phrase)
            if text is not None:
                check_template(phrase, text)
        _check_switches(self.enable, self.disable)
        return self

    def text(self, phrase: Phrase) -> str | None:
        value: str | None = getattr(self, phrase)
        return value


def _check_switches(enable: Iterable[NoticeKind], disable: Iterable[NoticeKind]) -> None:
    both = set(enable) & set(disable)
    if both:
        raise ValueError(f"{', '.join(sorted(both))}: both enabled and disabled at one level")


class DepartmentNotices(BaseModel):
    """A department's notices: which it enables or disables, and its own words per locale."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enable: tuple[NoticeKind, ...] = ()
    disable: tuple[NoticeKind, ...] = ()
    locales: dict[str, Texts] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid(self) -> DepartmentNotices:
        _check_switches(self.enable, self.disable)
        return self


BUILT_IN: Mapping[str, Texts] = {
    "en": Texts(
        handoff="I've passed your conversation to our support team. You're number {position} "
        "in the queue; someone should be with you {wait}.",
        handoff_closed="I've passed your conversation to our support team. They're away right "
        "now and back {back_at}; you're number {position} in the queue.",
        checking="Let me check that with a colleague. I'll be back with you shortly.",
        agent_joined="{agent_name} from our support team has joined the conversation.",
        handback="{agent_name} has handed the conversation back to me. I'm here if you need "
        "anything else.",
        resolved="{agent_name} has marked this conversation as resolved. Write again any time "
        "if you need more help.",
        rating="How did we do? Reply with a number from 1 (poor) to 5 (excellent).",
        wait_soon="soon",
        wait_minutes="in about {minutes} minutes",
        wait_hours="in about {hours} hours",
        back_today="today at {time}",
        back_tomorrow="tomorrow at {time}",
        back_weekday="on {weekday} at {time}",
        back_date="on {date} at {time}",
        weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    ),
    "de": Texts(
        handoff="Ich habe Ihr Gespräch an unser Support-Team übergeben. Sie sind auf Platz "
        "{position} in der Warteschlange; jemand sollte {wait} für Sie da sein.",
        handoff_closed="Ich habe Ihr Gespräch an unser Support-Team übergeben. Das Team ist "
        "gerade nicht erreichbar und ab {back_at} wieder da; Sie sind auf Platz {position} in "
        "der Warteschlange.",
        checking="Ich kläre das kurz mit einer Kollegin oder einem Kollegen und melde mich "
        "gleich wieder.",
        agent_joined="{agent_name} aus unserem Support-Team ist dem Gespräch beigetreten.",
        handback="{agent_name} hat das Gespräch an mich zurückgegeben. Ich bin da, wenn Sie "
        "noch etwas brauchen.",
        resolved="{agent_name} hat dieses Gespräch als gelöst markiert. Schreiben Sie uns "
        "jederzeit wieder, wenn Sie Hilfe brauchen.",
        rating="Wie zufrieden waren Sie? Antworten Sie mit einer Zahl von 1 (schlecht) bis 5 "
        "(sehr gut).",
        wait_soon="in Kürze",
        wait_minutes="in etwa {minutes} Minuten",
        wait_hours="in etwa {hours} Stunden",
        back_today="heute um {time}",
        back_tomorrow="morgen um {time}",
        back_weekday="{weekday} um {time}",
        back_date="{date} um {time}",
        weekdays=(
            "Montag",
            "Dienstag",
            "Mittwoch",
            "Donnerstag",
            "Freitag",
            "Samstag",
            "Sonntag",
        ),
    ),
    "fr": Texts(
        handoff="J'ai transmis votre conversation à notre équipe d'assistance. Vous êtes en "
        "position {position} dans la file d'attente ; quelqu'un devrait être avec vous {wait}.",
        handoff_closed="J'ai transmis votre conversation à notre équipe d'assistance. L'équipe "
        "est absente pour le moment et de retour {back_at} ; vous êtes en position {position} "
        "dans la file d'attente.",
        checking="Je vérifie cela auprès d'un collègue et je reviens vers vous rapidement.",
        agent_joined="{agent_name}, de notre équipe d'assistance, a rejoint la conversation.",
        handback="{agent_name} m'a rendu la conversation. Je reste à votre disposition si vous "
        "avez besoin d'autre chose.",
        resolved="{agent_name} a marqué cette conversation comme résolue. Écrivez-nous à tout "
        "moment si vous avez besoin d'aide.",
        rating="Comment avons-nous fait ? Répondez par un chiffre de 1 (mauvais) à 5 (excellent).",
        wait_soon="bientôt",
        wait_minutes="dans environ {minutes} minutes",
        wait_hours="dans environ {hours} heures",
        back_today="aujourd'hui à {time}",
        back_tomorrow="demain à {time}",
        back_weekday="{weekday} à {time}",
        back_date="le {date} à {time}",
        weekdays=("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    ),
    "es": Texts(
        handoff="He pasado tu conversación a nuestro equipo de soporte. Eres el número "
        "{position} en la cola; alguien debería atenderte {wait}.",
        handoff_closed="He pasado tu conversación a nuestro equipo de soporte. Ahora no están "
        "disponibles y vuelven {back_at}; eres el número {position} en la cola.",
        checking="Déjame consultarlo con un compañero. Vuelvo contigo enseguida.",
        agent_joined="{agent_name}, de nuestro equipo de soporte, se ha unido a la conversación.",
        handback="{agent_name} me ha devuelto la conversación. Aquí estoy si necesitas algo más.",
        resolved="{agent_name} ha marcado esta conversación como resuelta. Escríbenos cuando "
        "quieras si necesitas más ayuda.",
        rating="¿Qué tal lo hicimos? Responde con un número del 1 (mal) al 5 (excelente).",
        wait_soon="pronto",
        wait_minutes="en unos {minutes} minutos",
        wait_hours="en unas {hours} horas",
        back_today="hoy a las {time}",
        back_tomorrow="mañana a las {time}",
        back_weekday="el {weekday} a las {time}",
        back_date="el {date} a las {time}",
        weekdays=("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    ),
}
"""The words Baton ships with; a configured text replaces one of them, field by field."""
BASE_LOCALE = "en"
"""Where every lookup ends: the built-in English is complete."""


def locale_chain(locale: str | None) -> list[str]:
    """``de_CH`` as ``["de-ch", "de"]``: the locale, then each shorter prefix."""
    if not locale or not locale.strip():
        return []
    parts = locale.strip().casefold().replace("_", "-").split("-")
    return ["-".join(parts[:i]) for i in range(len(parts), 0, -1)]


@dataclass(frozen=True)
class Facts:
    """What a notice may say: filled into its template where it names them."""

    agent_name: str | None = None
    position: int | None = None
    """The ticket's place among the department's waiting tickets, from 1."""
    wait: timedelta | None = None
    """The expected wait; None: not known ("soon")."""
    back_at: datetime | None = None
    """When people are back, in the department's time zone; None: they are at work."""
    now: datetime | None = None
    """The time the notice is written, for "today" and "tomorrow"."""


@dataclass(frozen=True)
class Notice:
    """A notice to send: which, its words, and the locale of those words."""

    kind: NoticeKind
    text: str
    locale: str


class NoticeRules(BaseModel):
    """Which notices a department sends, in which words (see the module)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_locale: str = Field(
        default=BASE_LOCALE, description="The locale of a thread without `metadata.locale`."
    )
    sender: str = Field(
        default="Baton", min_length=1, max_length=200, description="Who notices are signed by."
    )
    enable: tuple[NoticeKind, ...] = ()
    disable: tuple[NoticeKind, ...] = Field(
        default=("rating",),
        description="Off for every department unless a department enables it; by default "
        "the rating prompt.",
    )
    locales: dict[str, Texts] = Field(default_factory=dict)
    departments: dict[str, DepartmentNotices] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid(self) -> NoticeRules:
        _check_switches(self.enable, self.disable)
        return self

    @cached_property
    def _locales(self) -> dict[str, Texts]:
        return {_norm(k): v for k, v in self.locales.items()}

    @cached_property
    def _departments(self) -> dict[str, DepartmentNotices]:
        return {k.casefold(): v for k, v in self.departments.items()}

    def _department(self, department: str | None) -> DepartmentNotices | None:
        return self._departments.get(department.casefold()) if department else None

    def _own(self, locale: str | None) -> list[str]:
        return locale_chain(locale) or locale_chain(self.default_locale)

    def enabled(self, kind: NoticeKind, *, department: str | None, locale: str | None) -> bool:
        """Whether ``kind`` is sent to a user of ``locale`` in ``department``: the most
        specific level that enables or disables it decides (everyone, everyone's words for
        the locale, the department, the department's words for the locale)."""
        own = list(reversed(self._own(locale)))
        dept = self._department(department)
        levels: list[tuple[tuple[NoticeKind, ...], tuple[NoticeKind, ...]]] = [
            (self.enable, self.disable),
            *((t.enable, t.disable) for c in own if (t := self._locales.get(c)) is not None),
        ]
        if dept is not None:
            dept_locales = {_norm(k): v for k, v in dept.locales.items()}
            levels.append((dept.enable, dept.disable))
            levels += [(t.enable, t.disable) for c in own if (t := dept_locales.get(c)) is not None]
        on = True
        for enabled, disabled in levels:
            if kind in disabled:
                on = False
            elif kind in enabled:
                on = True
        return on

    def _lookup(self, department: str | None, locale: str | None) -> list[tuple[str, Texts]]:
        """Every set of words that may hold a text, most specific first."""
        chain = list(
            dict.fromkeys([*self._own(locale), *locale_chain(self.default_locale), BASE_LOCALE])
        )
        dept = self._department(department)
        dept_locales = {_norm(k): v for k, v in dept.locales.items()} if dept else {}
        found: list[tuple[str, Texts]] = []
        for c in chain:
            for table in (dept_locales, self._locales, BUILT_IN):
                texts = table.get(c)
                if texts is not None:
                    found.append((c, texts))
        return found

    def words(
        self, phrase: Phrase, *, department: str | None, locale: str | None
    ) -> tuple[str, str]:
        """The template of ``phrase`` for a user of ``locale`` in ``department``, and the
        locale it is in."""
        for found_in, texts in self._lookup(department, locale):
            text = texts.text(phrase)
            if text is not None:
                return text, found_in
        raise AssertionError(f"the built-in {BASE_LOCALE} has every phrase, {phrase} too")

    def _weekdays(self, department: str | None, locale: str | None) -> Sequence[str]:
        for _, texts in self._lookup(department, locale):
            if texts.weekdays is not None:
                return texts.weekdays
        raise AssertionError("the built-in English names the weekdays")

    def notice(
        self, kind: NoticeKind, *, department: str | None, locale: str | None, facts: Facts
    ) -> Notice | None:
        """The notice ``kind`` as a user of ``locale`` in ``department`` gets it; None when it
        is turned off there."""
        if not self.enabled(kind, department=department, locale=locale):
            return None
        phrase: Phrase = kind
        if kind == "handoff" and facts.back_at is not None:
            phrase = "handoff_closed"
        template, found_in = self.words(phrase, department=department, locale=locale)
        values: dict[str, str] = {"agent_name": facts.agent_name or ""}
        if facts.position is not None:
            values["position"] = str(facts.position)
        if kind == "handoff":
            values.setdefault("position", "1")
            values["wait"] = self.wait_words(facts.wait, department=department, locale=locale)
            if facts.back_at is not None:
                values["back_at"] = self.back_words(
                    facts.back_at, facts.now or facts.back_at, department=department, locale=locale
                )
        return Notice(kind=kind, text=template.format_map(values), locale=found_in)

    def wait_words(
        self, wait: timedelta | None, *, department: str | None, locale: str | None
    ) -> str:
        """ "in about 5 minutes", "in about 2 hours", or "soon" when the wait is not known."""
        if wait is None:
            return self.words("wait_soon", department=department, locale=locale)[0]
        minutes = max(2, math.ceil(wait.total_seconds() / 60))
        if minutes < HOURS_FROM_MINUTES:
            template = self.words("wait_minutes", department=department, locale=locale)[0]
            return template.format(minutes=minutes)
        template = self.words("wait_hours", department=department, locale=locale)[0]
        return template.format(hours=round(minutes / 60))

    def back_words(
        self, back_at: datetime, now: datetime, *, department: str | None, locale: str | None
    ) -> str:
        """When people are back, as the user reads it: "tomorrow at 09:00 CET", "on Monday at
        09:00 CET", or the date when it is a week or more away. ``back_at`` is in the
        department's time zone, which "today" and "tomorrow" are counted in."""
        days = (back_at.date() - now.astimezone(back_at.tzinfo).date()).days
        time = back_at.strftime("%H:%M %Z").strip()
        where = {"department": department, "locale": locale}
        if days <= 0:
            return self.words("back_today", **where)[0].format(time=time)
        if days == 1:
            return self.words("back_tomorrow", **where)[0].format(time=time)
        if days < 7:
            weekday = self._weekdays(department, locale)[back_at.weekday()]
            return self.words("back_weekday", **where)[0].format(weekday=weekday, time=time)
        date = back_at.date().isoformat()
        return self.words("back_date", **where)[0].format(date=date, time=time)


def _norm(locale: str) -> str:
    return locale.strip().casefold().replace("_", "-")


def expected_wait(
    waits: Sequence[float], *, min_samples: int = MIN_WAIT_SAMPLES
) -> timedelta | None:
    """The wait a new ticket can expect: the median of recent tickets' times to their first
    claim (seconds); None with fewer than ``min_samples`` of them."""
    if len(waits) < min_samples:
        return None
    return timedelta(seconds=statistics.median(waits))


def load_rules(inline: str | None, path: Path | None) -> NoticeRules:
    """The notices configured inline (JSON, wins) or in a YAML or JSON file; else the
    built-in ones."""
    if inline:
        return NoticeRules.model_validate(json.loads(inline))
    if path:
        return NoticeRules.model_validate(yaml.safe_load(path.read_text()) or {})
    return NoticeRules()
