"""Calendar downloads shared by the API and the patient pages: one appointment's invite, all the
sessions of a series in one file, and an "Add to Google Calendar" link per session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from urllib.parse import urlencode

from flask import Response, current_app
from flask_babel import gettext

from booking.calendar import invites
from booking.mail.rendering import manage_url
from booking.models import Appointment, ClinicSettings
from booking.services.clinic import get_settings

GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render"


def invite_response(appointment: Appointment) -> Response:
    """The appointment's current invite (REQUEST, or CANCEL once cancelled) as an attachment.

    The Content-Type's ``method`` parameter matches the METHOD inside, as Outlook requires.
    """
    body = invites.build_current(appointment, get_settings(), manage_url(current_app.config["BASE_URL"]))
    method = "CANCEL" if appointment.status == "cancelled" else "REQUEST"
    return Response(body, content_type=f"text/calendar; charset=utf-8; method={method}", headers={
        "Content-Disposition": f'attachment; filename="appointment-{appointment.id}.ics"'})


def series_response(appointments: Sequence[Appointment], name: str) -> Response:
    """``invites.build_publish`` of ``appointments`` as a download named ``name``."""
    body = invites.build_publish(appointments, get_settings(), manage_url(current_app.config["BASE_URL"]))
    return Response(body, content_type="text/calendar; charset=utf-8; method=PUBLISH", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


def google_calendar_link(appointment: Appointment, settings: ClinicSettings, manage: str) -> str:
    """An "Add to Google Calendar" link for one session, as discreet as its invite (the clinic's
    name, the treatment only where the clinic shows it in invites)."""
    def stamp(moment) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    details = gettext("Manage your booking: %(link)s", link=manage)
    if settings.phone:
        details += "\n" + gettext("Questions? Call %(phone)s", phone=settings.phone)
    return GOOGLE_TEMPLATE + "?" + urlencode({
        "action": "TEMPLATE", "text": invites.invite_summary(appointment, settings),
        "dates": f"{stamp(appointment.start_at)}/{stamp(appointment.end_at)}", "details": details,
        "location": ", ".join(p for p in (settings.name, settings.address) if p),
    })
