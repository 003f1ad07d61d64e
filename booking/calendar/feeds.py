"""Subscription feeds (RFC 5545 with no METHOD) for a practitioner, a room, a patient or the clinic.

What each reader sees: staff feeds show the patient's initials, the treatment and the series
position ("A. R. · Mesotherapy, face 2/4"); a patient's feed shows their own appointments as
discreetly as their invites, plus each prep step as an all-day event (Google ignores alarms in
subscribed calendars and Apple strips them, so the steps must be events to be seen at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from icalendar import Calendar, Event

from booking.calendar.invites import PRODID, add_timezones, invite_summary
from booking.models import Appointment, ClinicSettings
from booking.scheduling.clock import to_local
from booking.scheduling.model import PrepStep
from booking.scheduling.prep import prep_due

REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class FeedSpec:
    """Which feed this is: its name, and whether the reader is the patient or staff."""

    name: str
    for_patient: bool


def staff_summary(appointment: Appointment) -> str:
    """"A. R. · Mesotherapy, face 2/4" (initials only: the feed may sit on a shared phone)."""
    summary = f"{appointment.patient.initials} · {appointment.treatment.name}"
    series = appointment.series
    if series is not None and appointment.series_index is not None:
        total = series.treatment.protocol.sessions if series.treatment.protocol else len(series.appointments)
        summary += f" {appointment.series_index + 1}/{total}"
    return summary


def _event(appointment: Appointment, settings: ClinicSettings, spec: FeedSpec) -> Event:
    """One appointment as a feed event."""
    tz = settings.timezone
    event = Event()
    event.add("uid", appointment.ical_uid)
    event.add("sequence", appointment.ical_sequence)
    event.add("dtstamp", appointment.updated_at)
    event.add("last-modified", appointment.updated_at)
    event.add("created", appointment.created_at)
    event.add("dtstart", to_local(appointment.start_at, tz))
    event.add("dtend", to_local(appointment.end_at, tz))
    event.add("class", "PRIVATE")
    if spec.for_patient:
        event.add("summary", invite_summary(appointment, settings))
        event.add("location", ", ".join(p for p in (settings.name, settings.address) if p))
    else:
        event.add("summary", staff_summary(appointment))
        where = [appointment.room.name] if appointment.room else []
        event.add("location", ", ".join(where + [appointment.practitioner.name]))
    event.add("status", "CANCELLED" if appointment.status == "cancelled" else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if appointment.status == "cancelled" else "OPAQUE")
    return event


def _prep_events(appointment: Appointment, steps: Sequence[PrepStep], settings: ClinicSettings) -> list[Event]:
    """A patient's prep steps for one appointment, each as an all-day event on its day."""
    tz = settings.timezone
    events = []
    when = f"{to_local(appointment.start_at, tz):%a %d %b, %H:%M}"
    for n, step in enumerate(steps):
        day = to_local(prep_due(appointment.start_at, step), tz).date()
        event = Event()
        event.add("uid", f"prep-{n}-{appointment.ical_uid}")
        event.add("sequence", appointment.ical_sequence)
        event.add("dtstamp", appointment.updated_at)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("summary", f"{step.instruction} (before your appointment {when})")
        event.add("transp", "TRANSPARENT")
        event.add("class", "PRIVATE")
        events.append(event)
    return events


def build_feed(
    spec: FeedSpec,
    appointments: Sequence[Appointment],
    settings: ClinicSettings,
    prep_steps: dict[int, tuple[PrepStep, ...]] | None = None,
) -> bytes:
    """The whole feed; ``prep_steps`` maps treatment id to its steps (patient feeds)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", spec.name)
    calendar.add("x-wr-timezone", settings.timezone)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    for appointment in appointments:
        calendar.add_component(_event(appointment, settings, spec))
        if spec.for_patient and prep_steps and appointment.status != "cancelled":
            for event in _prep_events(appointment, prep_steps.get(appointment.treatment_id, ()), settings):
                calendar.add_component(event)
    if appointments:
        add_timezones(calendar, min(a.start_at for a in appointments), max(a.end_at for a in appointments))
    return calendar.to_ical()
