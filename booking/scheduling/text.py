"""Words for people that the boundary can say in the reader's language (issue 16).

The scheduling layer knows no language but English and imports no framework, yet its problem
messages must reach an Italian reader in Italian. So a message is a :class:`Text`: a ``str``
whose value is the English sentence (every caller and test that treats a message as text keeps
working) and which also remembers its ``msgid`` and its parameters. The boundary
(``booking.i18n.translate``) looks the msgid up in the reader's catalog and formats the
parameters in the reader's language: dates and times travel as :class:`Moment` and :class:`Day`
values, which it formats with Babel and the CLDR pattern of their style; a nested ``Text`` is
translated in turn.

``N_`` and ``Np_`` build Texts and are the keywords ``pybabel extract`` collects the msgids by
(``-k N_ -k Np_:1,2``, Makefile ``translations-extract``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Union

from .clock import to_local

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# The CLDR pattern of each style, with the English the scheduling layer writes for it.
DAY_PATTERNS = {
    "day": "EEE d MMM",  # Tue 10 Mar
    "date": "dd MMM y",  # 30 Jun 2026
}
MOMENT_PATTERNS = {
    "moment": "EEE d MMM HH:mm",  # Tue 10 Mar 10:00
    "clock": "HH:mm",  # 10:00
}


def english_day(day: date) -> str:
    """A date as people read it: ``Tue 10 Mar`` (names spelled here, not by the server's locale)."""
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]}"


@dataclass(frozen=True, slots=True)
class Day:
    """A calendar date in a message; ``style`` names its pattern in ``DAY_PATTERNS``."""

    day: date
    style: str = "day"

    @property
    def pattern(self) -> str:
        """The CLDR pattern the boundary formats this date with."""
        return DAY_PATTERNS[self.style]

    def english(self) -> str:
        """``Tue 10 Mar`` (style "day") or ``30 Jun 2026`` (style "date")."""
        if self.style == "date":
            return f"{self.day.day:02d} {_MONTH_NAMES[self.day.month - 1]} {self.day.year}"
        return english_day(self.day)


@dataclass(frozen=True, slots=True)
class Moment:
    """An aware moment in a message, on the wall clock of ``tz`` (None: UTC, said as such)."""

    at: datetime
    tz: str | None
    style: str = "moment"

    @property
    def pattern(self) -> str:
        """The CLDR pattern the boundary formats this moment with (in ``tz``, or UTC)."""
        pattern = MOMENT_PATTERNS[self.style]
        return pattern if self.tz else f"{pattern} 'UTC'"

    def english(self) -> str:
        """``Tue 10 Mar 10:00`` (style "moment") or ``10:00`` (style "clock"); `` UTC`` added
        when there is no zone."""
        local = to_local(self.at, self.tz) if self.tz else self.at
        clock = f"{local:%H:%M}"
        text = clock if self.style == "clock" else f"{english_day(local.date())} {clock}"
        return text if self.tz else f"{text} UTC"


@dataclass(frozen=True, slots=True)
class Join:
    """Texts said one after another with ``separator`` between them (a list of problems)."""

    parts: tuple[Param, ...]
    separator: str = "; "

    def english(self) -> str:
        """The parts' English, separated."""
        return self.separator.join(english(p) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Written:
    """Words the clinic wrote (a prep step's instruction): ``text`` in its default language and
    ``translations``, (language, text) pairs, in others; the boundary says the reader's."""

    text: str
    translations: tuple[tuple[str, str], ...] = ()

    def english(self) -> str:
        """The clinic's default text (the scheduling layer's only language is the default one)."""
        return self.text


Param = Union[str, int, "Text", Day, Moment, Join, Written]


def english(value: Param) -> str | int:
    """A parameter as the English message shows it (numbers stay numbers for ``%(num)d``)."""
    if isinstance(value, (Day, Moment, Join, Written)):
        return value.english()
    return value


class Text(str):
    """A message for people: its ``str`` value is the English, and it carries what the boundary
    needs to say it in another language: ``msgid`` (and ``plural`` with ``n`` for a count),
    and ``params``, the values of its ``%(name)s`` placeholders."""

    msgid: str
    plural: str | None
    n: int | None
    params: Mapping[str, Param]

    def __new__(cls, msgid: str, params: Mapping[str, Param] | None = None, *,
                plural: str | None = None, n: int | None = None) -> Text:
        """The Text of ``msgid`` with ``params``; with ``plural`` and ``n``, the form for ``n``
        (``num`` is then ``n`` unless given, as in ``ngettext``)."""
        values = dict(params or {})
        if plural is not None:
            values.setdefault("num", n)
        source = plural if plural is not None and n != 1 else msgid
        value = source % {k: english(v) for k, v in values.items()} if values else source
        text = super().__new__(cls, value)
        text.msgid, text.plural, text.n, text.params = msgid, plural, n, values
        return text

    def __reduce__(self):
        """Pickle (and copy) as a Text again."""
        return (_rebuild, (self.msgid, dict(self.params), self.plural, self.n))


def _rebuild(msgid: str, params: Mapping[str, Param], plural: str | None, n: int | None) -> Text:
    """Unpickle a Text."""
    return Text(msgid, params, plural=plural, n=n)


def N_(msgid: str, **params: Param) -> Text:
    """A message to translate later: ``N_("Session %(number)d", number=3)``."""
    return Text(msgid, params)


def Np_(singular: str, plural: str, n: int, **params: Param) -> Text:
    """A message with a count to translate later: ``Np_("%(num)d day", "%(num)d days", 3)``."""
    return Text(singular, params, plural=plural, n=n)


def join(parts: Sequence[Param], separator: str = "; ") -> Join:
    """``parts`` said in a row: a parameter of a Text."""
    return Join(tuple(parts), separator)



# The body areas (``models.catalog.BODY_AREAS``) as a message says them ("your other face
# appointment"); an area not listed is said by its code.
_AREAS = {"face": N_("face"), "scalp": N_("scalp"), "body": N_("body"), "eyes": N_("eyes"),
          "neck": N_("neck"), "hands": N_("hands")}


def area_label(area: str) -> Text | str:
    """A body area in a message, which the boundary says in the reader's language."""
    return _AREAS.get(area, area)
