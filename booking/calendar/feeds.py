"""Subscription feeds (RFC 5545 with no METHOD) for a practitioner, a room, a patient or the clinic.

What each reader sees: staff feeds show the patient's initials, the treatment and the series
position ("A. R. · Mesotherapy, face 2/4"); a patient's feed shows their own appointments as
discreetly as their invites, plus each prep step as an all-day event (Google ignores alarms in
subscribed calendars and Apple strips them, so the steps must be events to be seen at all).

Feeds are written line by line here rather than through ``icalendar`` objects: a clinic feed
holds thousands of events, and building them as objects took seconds (docs/PERFORMANCE.md).
The VTIMEZONE still comes from ``icalendar``; the output is checked by two parsers in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from icalendar import Timezone

from booking.calendar.invites import PRODID
from booking.models import ClinicSettings
from booking.scheduling.clock import zone
from booking.scheduling.model import PrepStep

REFRESH = "PT1H"


@dataclass(frozen=True)
class FeedSpec:
    """Which feed this is: its name, and whether the reader is the patient or staff."""

    name: str
    for_patient: bool


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One appointment as a feed needs it (plain values from one query)."""

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


def initials(name: str) -> str:
    """"Anna Rossi" -> "A. R.": what a practitioner or room feed shows of a patient."""
    parts = [p for p in name.split() if p]
    return " ".join(f"{p[0].upper()}." for p in parts[:2]) or "?"


def staff_summary(event: FeedEvent) -> str:
    """"A. R. · Mesotherapy, face 2/4" (initials only: the feed may sit on a shared phone)."""
    summary = f"{initials(event.patient_name)} · {event.treatment_name}"
    if event.series_index is not None and event.series_total:
        summary += f" {event.series_index + 1}/{event.series_total}"
    return summary


def patient_summary(event: FeedEvent, settings: ClinicSettings) -> str:
    """Discreet like the invites, unless the clinic shows treatment names."""
    if settings.show_treatment_in_invites:
        return f"{event.treatment_name} at {settings.name}"
    return f"Appointment at {settings.name}"


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


def _stamp(m: datetime) -> str:
    """20261126T101500 (from isoformat, which is C: strftime was a third of the feed's time)."""
    return m.replace(tzinfo=None, microsecond=0).isoformat().replace("-", "").replace(":", "")


def _utc(moment: datetime) -> str:
    """20261126T101500Z."""
    if moment.utcoffset():
        moment = moment.astimezone(zone("UTC"))
    return _stamp(moment) + "Z"


class _LocalTimes:
    """UTC -> clinic wall-clock text, once per distinct moment (feeds repeat the same slots)."""

    def __init__(self, tz) -> None:
        self.tz = tz
        self.seen: dict[datetime, str] = {}

    def __call__(self, moment: datetime) -> str:
        text = self.seen.get(moment)
        if text is None:
            text = self.seen[moment] = _stamp(moment.astimezone(self.tz))
        return text


@lru_cache(maxsize=32)
def vtimezone(tzid: str, first_year: int, last_year: int) -> str:
    """The VTIMEZONE block for ``tzid`` covering the years asked, from ``icalendar``."""
    component = Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1))
    return component.to_ical().decode("utf-8").rstrip("\r\n")


def _event_lines(event: FeedEvent, settings: ClinicSettings, spec: FeedSpec, local: _LocalTimes) -> list[str]:
    """The content lines of one appointment."""
    tzid = settings.timezone
    if spec.for_patient:
        summary = patient_summary(event, settings)
        location = ", ".join(p for p in (settings.name, settings.address) if p)
    else:
        summary = staff_summary(event)
        location = ", ".join(([event.room_name] if event.room_name else []) + [event.practitioner_name])
    changed = _utc(event.updated_at)
    return [
        "BEGIN:VEVENT",
        f"UID:{escape(event.uid)}",
        f"SEQUENCE:{event.sequence}",
        f"DTSTAMP:{changed}",
        f"LAST-MODIFIED:{changed}",
        f"CREATED:{_utc(event.created_at)}",
        f"DTSTART;TZID={tzid}:{local(event.start)}",
        f"DTEND;TZID={tzid}:{local(event.end)}",
        "CLASS:PRIVATE",
        f"SUMMARY:{escape(summary)}",
        f"LOCATION:{escape(location)}",
        f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
        f"TRANSP:{'TRANSPARENT' if event.cancelled else 'OPAQUE'}",
        "END:VEVENT",
    ]


def _prep_lines(event: FeedEvent, steps: Sequence[PrepStep], tz) -> list[str]:
    """A patient's prep steps for one appointment, each as an all-day event on its day."""
    lines = []
    when = f"{event.start.astimezone(tz):%a %d %b, %H:%M}"
    for n, step in enumerate(steps):
        day = (event.start - timedelta(hours=step.lead_hours)).astimezone(tz).date()
        lines += [
            "BEGIN:VEVENT",
            f"UID:prep-{n}-{escape(event.uid)}",
            f"SEQUENCE:{event.sequence}",
            f"DTSTAMP:{_utc(event.updated_at)}",
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{escape(f'{step.instruction} (before your appointment {when})')}",
            "TRANSP:TRANSPARENT",
            "CLASS:PRIVATE",
            "END:VEVENT",
        ]
    return lines


def build_feed(
    spec: FeedSpec,
    events: Sequence[FeedEvent],
    settings: ClinicSettings,
    prep_steps: dict[int, tuple[PrepStep, ...]] | None = None,
) -> bytes:
    """The whole feed; ``prep_steps`` maps treatment id to its steps (patient feeds)."""
    tz = zone(settings.timezone)
    lines: list[str] = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{escape(spec.name)}",
        f"X-WR-TIMEZONE:{settings.timezone}",
        f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}",
        f"X-PUBLISHED-TTL:{REFRESH}",
    ]
    if events:
        first = min(e.start for e in events).year - 1
        last = max(e.end for e in events).year + 2
        lines.append(vtimezone(settings.timezone, first, last))
    local = _LocalTimes(tz)
    for event in events:
        lines += _event_lines(event, settings, spec, local)
        if spec.for_patient and prep_steps and not event.cancelled:
            lines += _prep_lines(event, prep_steps.get(event.treatment_id, ()), tz)
    lines.append("END:VCALENDAR")
    # Most lines are short ASCII and need no folding; the VTIMEZONE block arrives folded.
    folded = [line if (len(line) <= 75 and line.isascii()) or "\r\n" in line else fold(line) for line in lines]
    return ("\r\n".join(folded) + "\r\n").encode("utf-8")
