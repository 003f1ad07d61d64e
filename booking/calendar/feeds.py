"""Subscription feeds (RFC 5545 with no METHOD) for a practitioner, a room, a patient or the clinic.

What each reader sees: staff feeds show the patient's initials, the treatment and the series
position ("A. R. · Mesotherapy, face 2/4"); a patient's feed shows their own appointments as
discreetly as their invites, plus each prep step as an all-day event (Google ignores alarms in
subscribed calendars and Apple strips them, so the steps must be events to be seen at all).

Feeds are written line by line here rather than through ``icalendar`` objects: a clinic feed
holds thousands of events, and building them as objects took seconds (docs/PERFORMANCE.md).
Each event is one formatted block; the lines a feed repeats (slot times, summaries, locations,
change stamps) are escaped, folded and formatted once per distinct value (``_Memo``). The
VTIMEZONE still comes from ``icalendar`` (``booking.calendar.timezones``); the output is checked
by two parsers in the tests.

The words are in the current language: the feed's reader's (``services.feeds.feed_body`` sets it),
with the treatment names in it given by ``names``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Generic, NamedTuple, TypeVar

from flask_babel import gettext

from booking.calendar.invites import PRODID
from booking.calendar.timezones import vtimezone
from booking.i18n import format_local
from booking.models import ClinicSettings
from booking.scheduling.clock import zone

REFRESH = "PT1H"

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class FeedSpec:
    """Which feed this is: its name, and whether the reader is the patient or staff."""

    name: str
    for_patient: bool


class FeedPrep(NamedTuple):
    """One prep rule as a patient feed shows it.

    ``rule_id`` gives each prep event its identity (adding or removing another rule leaves its
    UID alone); ``version`` counts the changes to the rule's text or lead time, and is added to
    the appointment's SEQUENCE so a subscribed calendar replaces the old step.
    """

    rule_id: int
    instruction: str
    lead_hours: int
    version: int = 0


class FeedEvent(NamedTuple):
    """One appointment as a feed needs it: one row of ``services.feeds.feed_events``'s query.

    A named tuple rather than a frozen dataclass: a clinic feed makes 10,000 of them, and a
    frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) took ~50 ms for them.
    """

    uid: str
    sequence: int
    created_at: datetime
    updated_at: datetime
    start: datetime
    end: datetime
    cancelled: bool
    patient_name: str
    treatment_id: int
    treatment_name: str
    series_index: int | None
    series_total: int | None
    room_name: str | None
    practitioner_name: str
    completed: bool = False


class FeedAftercare(NamedTuple):
    """One aftercare rule as a patient feed shows it after a completed session (issue 14)."""

    rule_id: int
    instruction: str
    hours: int


def initials(name: str) -> str:
    """"Anna Rossi" -> "A. R.": what a practitioner or room feed shows of a patient."""
    return " ".join([f"{word[0].upper()}." for word in name.split(maxsplit=2)[:2]]) or "?"


def staff_summary(patient_initials: str, treatment_name: str, series_index: int | None,
                  series_total: int | None) -> str:
    """"A. R. · Mesotherapy, face 2/4" (initials only: the feed may sit on a shared phone)."""
    summary = f"{patient_initials} · {treatment_name}"
    if series_index is not None and series_total:
        summary += f" {series_index + 1}/{series_total}"
    return summary


def patient_summary(treatment_name: str, settings: ClinicSettings) -> str:
    """Discreet like the invites, unless the clinic shows treatment names."""
    if settings.show_treatment_in_invites:
        return gettext("%(treatment)s at %(clinic)s", treatment=treatment_name, clinic=settings.name)
    return gettext("Appointment at %(clinic)s", clinic=settings.name)


def staff_location(room_name: str | None, practitioner_name: str) -> str:
    """"Room 2, Dr Giulia Bianchi" (the practitioner alone when the treatment needs no room)."""
    return f"{room_name}, {practitioner_name}" if room_name else practitioner_name


def patient_location(settings: ClinicSettings) -> str:
    """"Villa Rosa, Via Roma 1" (what is set of the two)."""
    return ", ".join(part for part in (settings.name, settings.address) if part)


def escape(text: str) -> str:
    """RFC 5545 TEXT escaping."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a UTF-8 character (RFC 5545 §3.1)."""
    if len(line) <= 75 and line.isascii():
        return line
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte: step back
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, limit = end, 74  # continuation lines begin with one space
    return "\r\n ".join(parts)


def text_line(name: str, value: str) -> str:
    """A property with a TEXT value, escaped and folded: ``text_line("SUMMARY", "a, b")``."""
    return fold(f"{name}:{escape(value)}")


def _stamp(moment: datetime) -> str:
    """20261126T101500, from the wall-clock fields (strftime took a third of the feed's time)."""
    return "%04d%02d%02dT%02d%02d%02d" % (
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def _utc(moment: datetime) -> str:
    """20261126T101500Z."""
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return _stamp(moment) + "Z"


class _Memo(dict[K, V], Generic[K, V]):
    """A dict that makes a missing value with ``make(key)`` and keeps it.

    A feed repeats the same slots, patients, rooms and treatments: each distinct value is
    formatted once, and a hit is a plain dict lookup (``__missing__`` runs only on a miss).
    """

    __slots__ = ("make",)

    def __init__(self, make: Callable[[K], V]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: K) -> V:
        value = self[key] = self.make(key)
        return value


_CONFIRMED = "STATUS:CONFIRMED\r\nTRANSP:OPAQUE"
_CANCELLED = "STATUS:CANCELLED\r\nTRANSP:TRANSPARENT"


def _event_blocks(spec: FeedSpec, events: Sequence[FeedEvent], settings: ClinicSettings, tz: tzinfo,
                  prep_steps: dict[int, tuple[FeedPrep, ...]] | None,
                  aftercare: dict[int, tuple[FeedAftercare, ...]] | None = None,
                  names: Mapping[int, str] | None = None) -> list[str]:
    """Each appointment as one block of content lines (no final line break), followed on a
    patient feed by its prep steps, and by its aftercare once it is completed."""
    tzid = settings.timezone
    stamps = _Memo(_utc)
    starts = _Memo(lambda moment: fold(f"DTSTART;TZID={tzid}:{_stamp(moment.astimezone(tz))}"))
    ends = _Memo(lambda moment: fold(f"DTEND;TZID={tzid}:{_stamp(moment.astimezone(tz))}"))
    if spec.for_patient:
        location = text_line("LOCATION", patient_location(settings))
        patient_summaries = _Memo(lambda treatment: text_line("SUMMARY", patient_summary(treatment, settings)))
    else:
        initials_of = _Memo(initials)
        staff_summaries = _Memo(lambda key: text_line("SUMMARY", staff_summary(*key)))
        locations = _Memo(lambda key: text_line("LOCATION", staff_location(*key)))
    blocks: list[str] = []
    for event in events:
        (uid, sequence, created, updated, start, end, cancelled, patient_name, treatment_id, treatment_name,
         series_index, series_total, room_name, practitioner_name, completed) = event
        if names:
            treatment_name = names.get(treatment_id, treatment_name)
        if spec.for_patient:
            summary = patient_summaries[treatment_name]
        else:
            summary = staff_summaries[initials_of[patient_name], treatment_name, series_index, series_total]
            location = locations[room_name, practitioner_name]
        changed = stamps[updated]
        blocks.append(
            f"BEGIN:VEVENT\r\n{text_line('UID', uid)}\r\nSEQUENCE:{sequence}\r\n"
            f"DTSTAMP:{changed}\r\nLAST-MODIFIED:{changed}\r\nCREATED:{stamps[created]}\r\n"
            f"{starts[start]}\r\n{ends[end]}\r\nCLASS:PRIVATE\r\n{summary}\r\n{location}\r\n"
            f"{_CANCELLED if cancelled else _CONFIRMED}\r\nEND:VEVENT"
        )
        if spec.for_patient and prep_steps and not cancelled and not completed:
            blocks += map(fold, _prep_lines(event, prep_steps.get(treatment_id, ()), tz))
        if spec.for_patient and aftercare and completed:
            blocks += map(fold, _aftercare_lines(event, aftercare.get(treatment_id, ()), tz))
    return blocks


def _aftercare_lines(event: FeedEvent, steps: Sequence[FeedAftercare], tz: tzinfo) -> list[str]:
    """A completed session's aftercare, each step an all-day event over the days it applies,
    identified by the rule and the appointment."""
    lines = []
    for step in steps:
        until = event.end + timedelta(hours=step.hours)
        first = event.end.astimezone(tz).date()
        last = (until - timedelta(microseconds=1)).astimezone(tz).date()
        lines += [
            "BEGIN:VEVENT",
            f"UID:aftercare-{step.rule_id}-{escape(event.uid)}",
            f"SEQUENCE:{event.sequence}",
            f"DTSTAMP:{_utc(event.updated_at)}",
            f"DTSTART;VALUE=DATE:{first:%Y%m%d}",
            f"DTEND;VALUE=DATE:{last + timedelta(days=1):%Y%m%d}",
            "SUMMARY:" + escape(gettext("Aftercare: %(instruction)s (until %(until)s)", instruction=step.instruction,
                                        until=format_local(until, "EEE dd MMM, HH:mm", tz))),
            "TRANSP:TRANSPARENT",
            "CLASS:PRIVATE",
            "END:VEVENT",
        ]
    return lines


def _prep_lines(event: FeedEvent, steps: Sequence[FeedPrep], tz: tzinfo) -> list[str]:
    """A patient's prep steps for one appointment, each as an all-day event on its day: its UID
    names the rule and the appointment (never the step's position), and its SEQUENCE rises with
    either's changes."""
    lines = []
    when = format_local(event.start, "EEE dd MMM, HH:mm", tz)
    for step in steps:
        day = (event.start - timedelta(hours=step.lead_hours)).astimezone(tz).date()
        lines += [
            "BEGIN:VEVENT",
            f"UID:prep-{step.rule_id}-{escape(event.uid)}",
            f"SEQUENCE:{event.sequence + step.version}",
            f"DTSTAMP:{_utc(event.updated_at)}",
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
            "SUMMARY:" + escape(gettext("%(instruction)s (before your appointment %(when)s)",
                                        instruction=step.instruction, when=when)),
            "TRANSP:TRANSPARENT",
            "CLASS:PRIVATE",
            "END:VEVENT",
        ]
    return lines


def build_feed(
    spec: FeedSpec,
    events: Sequence[FeedEvent],
    settings: ClinicSettings,
    prep_steps: dict[int, tuple[FeedPrep, ...]] | None = None,
    aftercare: dict[int, tuple[FeedAftercare, ...]] | None = None,
    names: Mapping[int, str] | None = None,
) -> bytes:
    """The whole feed; ``prep_steps`` and ``aftercare`` map treatment id to its steps (patient feeds),
    ``names`` to its name in the reader's language (default: the events' own)."""
    tz = zone(settings.timezone)
    parts: list[str] = [fold(line) for line in (
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{escape(spec.name)}",
        f"X-WR-TIMEZONE:{settings.timezone}",
        f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}",
        f"X-PUBLISHED-TTL:{REFRESH}",
    )]
    if events:
        first = min(e.start for e in events).year - 1
        last = max(e.end for e in events).year + 2
        parts.append(vtimezone(settings.timezone, first, last))  # arrives folded
    parts += _event_blocks(spec, events, settings, tz, prep_steps, aftercare, names)
    parts += ("END:VCALENDAR", "")  # the empty part ends the last line with CRLF too
    return "\r\n".join(parts).encode("utf-8")
