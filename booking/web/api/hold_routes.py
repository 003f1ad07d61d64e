"""Holds in the JSON API (issue 15): keep a time for a patient for a while, book it, or give it
back. A held time is busy for everyone else (the same rules and database constraints as a
booking); an expired hold answers 410 ``hold_expired``."""

from __future__ import annotations

from flask import Response

from booking.models import Appointment
from booking.services import holds
from booking.web.api import SECURITY, actor_required, api, booking_tag, json_response, schemas, serialize


def _hold(hold: Appointment) -> schemas.HoldOut:
    return schemas.HoldOut(id=hold.id, treatment=hold.treatment.slug, patient_id=hold.patient_id,
                           practitioner_id=hold.practitioner_id, start=serialize.local(hold.start_at),
                           end=serialize.local(hold.end_at), expires_at=serialize.local(hold.hold_expires_at))



@api.post("/holds", tags=[booking_tag], security=SECURITY, responses={201: schemas.HoldOut})
def create_hold(body: schemas.HoldIn):
    """Hold a time (busy for everyone else until ``expires_at``); every booking rule applies (409/422)."""
    hold = holds.create_hold(actor_required(), treatment_slug=body.treatment, start=body.start,
                             practitioner_id=body.practitioner_id, patient_id=body.patient_id, minutes=body.minutes)
    return json_response(_hold(hold), 201)


@api.post("/holds/<int:hold_id>/book", tags=[booking_tag], security=SECURITY, responses={201: schemas.AppointmentOut})
def book_hold(path: schemas.HoldPath):
    """Book the held time: the appointment made from the hold in one transaction (410 once expired)."""
    appointment = holds.book_hold(actor_required(), path.hold_id)
    return json_response(serialize.appointment(appointment), 201)


@api.delete("/holds/<int:hold_id>", tags=[booking_tag], security=SECURITY)
def release_hold(path: schemas.HoldPath):
    """Give the held time back at once."""
    holds.release_hold(actor_required(), path.hold_id)
    return Response(status=204)
