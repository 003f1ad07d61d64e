"""Invites for one appointment: METHOD:REQUEST on booking and change, METHOD:CANCEL on cancel.

RFC 5546: a client matches updates by UID and keeps the one with the highest SEQUENCE, so an
appointment keeps one UID for life and its SEQUENCE rises with every change the patient sees.

The texts (SUMMARY, DESCRIPTION, the alarms') are in the current language, which mail sets to
its reader's (``booking.mail.rendering.written_for``); SUMMARY and DESCRIPTION say which it is
with a LANGUAGE parameter (RFC 5545 §3.2.10).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext, get_locale
from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from booking.calendar.timezones import vtimezone
from booking.models import Appointment, ClinicSettings
from booking.models.base import utcnow
from booking.protocol_text import lead_time

PRODID = "-//Clinic Booking//Series Booking 1.0//EN"


def invite_summary(appointment: Appointment, settings: ClinicSettings) -> str:
    """Discreet by default ("Appointment at <clinic>"); the treatment only if the clinic says so."""
    if settings.show_treatment_in_invites:
        return gettext("%(treatment)s at %(clinic)s", treatment=appointment.treatment.name, clinic=settings.name)
    return gettext("Appointment at %(clinic)s", clinic=settings.name)


def _language() -> dict[str, str]:
    """The LANGUAGE parameter of a text written now ("en" outside an app)."""
    locale = get_locale()
    return {"LANGUAGE": locale.language if locale is not None else "en"}


def _calendar(method: str) -> Calendar:
    """An empty iTIP calendar with PRODID, VERSION and METHOD."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    return calendar


def _people(event: Event, appointment: Appointment, settings: ClinicSettings, partstat: str | None) -> None:
    """ORGANIZER (the clinic) and ATTENDEE (the patient; the patient booked, so accepted)."""
    organizer = vCalAddress(f"mailto:{settings.email or 'bookings@clinic.example'}")
    organizer.params["cn"] = vText(settings.name)
    event.add("organizer", organizer)
    if not appointment.patient.email:
        return  # a patient without an e-mail address receives no invite; feeds still show the event
    attendee = vCalAddress(f"mailto:{appointment.patient.email}")
    attendee.params["cn"] = vText(appointment.patient.name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    if partstat:
        attendee.params["partstat"] = vText(partstat)
    attendee.params["rsvp"] = vText("FALSE")
    event.add("attendee", attendee)


def _description(appointment: Appointment, settings: ClinicSettings, manage_url: str) -> str:
    """Prep steps (discreet: a link to them) and the link to manage the booking."""
    lines = []
    protocol = appointment.treatment.protocol
    if protocol is not None and protocol.prep_rules and not settings.show_treatment_in_invites:
        lines += [gettext("How to prepare: sign in to see the steps: %(url)s", url=manage_url), ""]
    elif protocol is not None and protocol.prep_rules:
        lines.append(gettext("Before your appointment:"))
        lines += ["- " + gettext("%(lead)s before: %(instruction)s", lead=lead_time(r.lead_hours),
                                 instruction=r.instruction) for r in protocol.prep_rules]
        lines.append("")
    lines.append(gettext("Manage your booking: %(url)s", url=manage_url))
    if settings.phone:
        lines.append(gettext("Questions? Call %(phone)s", phone=settings.phone))
    return "\n".join(lines)


def _base_event(appointment: Appointment, settings: ClinicSettings, stamp: datetime) -> Event:
    """The properties every invite of this appointment shares."""
    tz = ZoneInfo(settings.timezone)
    event = Event()
    event.add("uid", appointment.ical_uid)
    event.add("sequence", appointment.ical_sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", appointment.start_at.astimezone(tz))
    event.add("dtend", appointment.end_at.astimezone(tz))
    event.add("summary", invite_summary(appointment, settings), parameters=_language())
    event.add("location", ", ".join(p for p in (settings.name, settings.address) if p))
    event.add("class", "PRIVATE")
    event.add("transp", "OPAQUE")
    return event


def build_request(
    appointment: Appointment, settings: ClinicSettings, manage_url: str, stamp: datetime | None = None
) -> bytes:
    """METHOD:REQUEST for a new or changed appointment, with prep-step alarms."""
    calendar = _calendar("REQUEST")
    event = _base_event(appointment, settings, stamp or utcnow())
    event.add("status", "CONFIRMED")
    event.add("description", _description(appointment, settings, manage_url), parameters=_language())
    _people(event, appointment, settings, "ACCEPTED")
    protocol = appointment.treatment.protocol
    rules = [r for r in (protocol.prep_rules if protocol is not None else []) if r.remind]
    for rule in rules:
        if rule.lead_hours > 24:
            event.add_component(_alarm(timedelta(hours=rule.lead_hours), _prep_text(rule.instruction, settings)))
    # Steps due within a day ride on the day-before alarm instead of a second alarm at -P1D.
    tomorrow = [gettext("Tomorrow: %(summary)s", summary=invite_summary(appointment, settings))]
    tomorrow += dict.fromkeys(_prep_text(r.instruction, settings) for r in rules if r.lead_hours <= 24)
    event.add_component(_alarm(timedelta(hours=24), ". ".join(tomorrow)))
    calendar.add_component(event)
    return with_timezone(calendar.to_ical(), settings.timezone, appointment.start_at, appointment.end_at)


def build_cancel(
    appointment: Appointment, settings: ClinicSettings, stamp: datetime | None = None
) -> bytes:
    """METHOD:CANCEL with the same UID and a higher SEQUENCE; no alarms (RFC 5546 §3.2.5)."""
    calendar = _calendar("CANCEL")
    event = _base_event(appointment, settings, stamp or utcnow())
    event.add("status", "CANCELLED")
    _people(event, appointment, settings, None)
    calendar.add_component(event)
    return with_timezone(calendar.to_ical(), settings.timezone, appointment.start_at, appointment.end_at)


def build_current(appointment: Appointment, settings: ClinicSettings, manage_url: str) -> bytes:
    """The invite that describes the appointment as it is now (REQUEST, or CANCEL if cancelled)."""
    if appointment.status == "cancelled":
        return build_cancel(appointment, settings, stamp=appointment.updated_at)
    return build_request(appointment, settings, manage_url, stamp=appointment.updated_at)


def build_publish(appointments: Sequence[Appointment], settings: ClinicSettings, manage_url: str) -> bytes:
    """One METHOD:PUBLISH calendar with every given appointment: each event is the one its invite
    carries (same UID and SEQUENCE, same discreet text and alarms), without the ATTENDEE that
    PUBLISH does not allow (RFC 5546 §3.2.1), so importing it adds every session at once and a
    later invite for one of them updates the same event."""
    calendar = _calendar("PUBLISH")
    for appointment in appointments:
        invite = Calendar.from_ical(build_request(appointment, settings, manage_url, stamp=appointment.updated_at))
        for event in invite.walk("VEVENT"):
            event.pop("ATTENDEE", None)
            calendar.add_component(event)
    return with_timezone(calendar.to_ical(), settings.timezone, min(a.start_at for a in appointments),
                         max(a.end_at for a in appointments))


def with_timezone(ical: bytes, tzid: str, first: datetime, last: datetime) -> bytes:
    """``ical`` (one event, times in ``tzid``) with the zone's VTIMEZONE before the event.

    Transitions only around the events' years (the whole 1970-2038 history would bloat every
    invite to several KB). The block comes from ``icalendar`` and is kept per zone and years:
    working it out from the zone's rules was a third of a booking's invite.
    """
    block = vtimezone(tzid, first.year - 1, last.year + 2).encode("utf-8") + b"\r\n"
    head, found, tail = ical.partition(b"BEGIN:VEVENT\r\n")
    return head + block + found + tail


def _prep_text(instruction: str, settings: ClinicSettings) -> str:
    """An alarm's words for a prep step: the instruction only where the clinic names treatments
    (an alarm shows on a lock screen); otherwise a pointer to the signed-in steps."""
    if settings.show_treatment_in_invites:
        return instruction
    return gettext("A step to prepare starts now (sign in to see it)")


def _alarm(before: timedelta, text: str) -> Alarm:
    """A display alarm ``before`` the start."""
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", text, parameters=_language())
    alarm.add("trigger", -before)
    return alarm
