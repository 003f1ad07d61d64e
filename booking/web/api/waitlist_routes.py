"""The waitlist in the JSON API (issue 15): ask for an earlier or different time (for a booked
session or a new one), list the requests, withdraw one. Freed times that match are offered in
the stated order (``services.waitlist``); the offers are answered through ``/offers``."""

from __future__ import annotations

from flask import Response

from booking.models import WaitlistRequest
from booking.services import waitlist
from booking.web.api import SECURITY, actor_required, api, booking_tag, json_response, schemas, serialize


def _request(r: WaitlistRequest) -> schemas.WaitlistOut:
    return schemas.WaitlistOut(id=r.id, status=r.status, patient_id=r.patient_id, treatment=r.treatment.slug,
                               appointment_id=r.appointment_id, latest=r.latest,
                               practitioner_ids=list(r.practitioner_ids or []), weekdays=list(r.weekdays or []),
                               from_time=r.from_time, to_time=r.to_time, created_at=serialize.local(r.created_at),
                               offer_ids=sorted(o.id for o in r.offers))



@api.post("/waitlist", tags=[booking_tag], security=SECURITY, responses={201: schemas.WaitlistOut})
def create_waitlist_request(body: schemas.WaitlistIn):
    """Ask for an earlier or different time; the allowed window is the rule book's, the
    preferences only narrow it. Patients for themselves; reception with ``patient_id``."""
    request = waitlist.create_request(
        actor_required(), treatment_slug=body.treatment, appointment_id=body.appointment_id,
        patient_id=body.patient_id, practitioner_ids=body.practitioner_ids, weekdays=body.weekdays,
        from_time=body.from_time, to_time=body.to_time, latest=body.latest)
    return json_response(_request(request), 201)


@api.get("/waitlist", tags=[booking_tag], security=SECURITY, responses={200: schemas.WaitlistList})
def list_waitlist():
    """The caller's requests (reception and admin: every one), oldest first."""
    return json_response(schemas.WaitlistList([_request(r) for r in waitlist.list_requests(actor_required())]))


@api.delete("/waitlist/<int:request_id>", tags=[booking_tag], security=SECURITY)
def withdraw_waitlist_request(path: schemas.WaitlistPath):
    """Stop waiting; an open offer for it is withdrawn and its time goes back."""
    waitlist.withdraw(actor_required(), path.request_id)
    return Response(status=204)
