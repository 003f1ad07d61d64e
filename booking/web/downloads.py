"""The .ics download of one appointment, shared by the API and the patient pages."""

from __future__ import annotations

from flask import Response, current_app

from booking.calendar import invites
from booking.mail.rendering import manage_url
from booking.models import Appointment
from booking.services.clinic import get_settings


def invite_response(appointment: Appointment) -> Response:
    """The appointment's current invite (REQUEST, or CANCEL once cancelled) as an attachment.

    The Content-Type's ``method`` parameter matches the METHOD inside, as Outlook requires.
    """
    body = invites.build_current(appointment, get_settings(), manage_url(current_app.config["BASE_URL"]))
    method = "CANCEL" if appointment.status == "cancelled" else "REQUEST"
    return Response(body, content_type=f"text/calendar; charset=utf-8; method={method}", headers={
        "Content-Disposition": f'attachment; filename="appointment-{appointment.id}.ics"'})
