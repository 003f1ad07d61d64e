"""The views of the JSON API: each parses its input, calls one use case, serializes."""

from __future__ import annotations

from flask import Response, current_app, g, request
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.extensions import db, sign_in_limits
from booking.models import Practitioner, Protocol, Treatment
from booking.services import availability, booking, changes, feed_links, listing, tokens
from booking.services.booking import SessionRequest
from booking.services.errors import InvalidRequest
from booking.services.loading import load_appointment_for
from booking.web.downloads import invite_response
from booking.web.api import (
    SECURITY,
    access_tag,
    actor_required,
    api,
    booking_tag,
    catalog_tag,
    json_response,
    schemas,
    serialize,
)


# --- access -------------------------------------------------------------------------------
@api.post("/tokens", tags=[access_tag], responses={201: schemas.TokenOut})
@sign_in_limits()
def create_token(body: schemas.TokenIn):
    """Exchange e-mail and password for a bearer token (a wrong password is 401)."""
    secret, token = tokens.issue_api_token(body.email, body.password, current_app.config["API_TOKEN_HOURS"])
    return json_response(schemas.TokenOut(token=secret, expires_at=token.expires_at), 201)


@api.delete("/tokens", tags=[access_tag], security=[{"bearer": []}], responses={204: None})
def revoke_token():
    """Revoke the bearer token this request was made with (sign out an integration)."""
    actor_required()
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not tokens.revoke_api_token(secret.strip()):
        raise InvalidRequest(gettext("Send the token to revoke as Authorization: Bearer <token>."), code="no_token")
    return Response(status=204)


@api.post("/feeds", tags=[access_tag], security=SECURITY, responses={201: schemas.FeedOut})
def create_feed(body: schemas.FeedIn):
    """Make a secret subscription URL: patients for their own appointments, practitioners for their
    own diary, reception and admins for a practitioner, room, patient or the whole clinic."""
    secret, feed = feed_links.create_feed(actor_required(), body.scope, body.id)
    url = current_app.config["BASE_URL"].rstrip("/") + f"/feeds/{secret}.ics"
    return json_response(schemas.FeedOut(id=feed.id, scope=feed.scope, url=url), 201)


@api.delete("/feeds/<int:feed_id>", tags=[access_tag], security=SECURITY, responses={204: None})
def revoke_feed(path: schemas.FeedPath):
    """Revoke a subscription URL (its maker, an admin, or the patient it shows; else 404)."""
    feed_links.revoke_feed(actor_required(), path.feed_id)
    return Response(status=204)


# --- catalog ------------------------------------------------------------------------------
@api.get("/treatments", tags=[catalog_tag], responses={200: schemas.TreatmentList})
def list_treatments():
    """Every active treatment with its protocol and prep rules."""
    rows = db.session.scalars(
        select(Treatment).where(Treatment.active.is_(True))
        .options(selectinload(Treatment.protocol).selectinload(Protocol.prep_rules))
        .order_by(Treatment.id)
    ).all()
    return json_response(schemas.TreatmentList([serialize.treatment(t) for t in rows]))


@api.get("/practitioners", tags=[catalog_tag], responses={200: schemas.PractitionerList})
def list_practitioners():
    """Active practitioners and the treatments they give."""
    rows = db.session.scalars(
        select(Practitioner).where(Practitioner.active.is_(True))
        .options(selectinload(Practitioner.user), selectinload(Practitioner.treatments))
        .order_by(Practitioner.id)
    ).all()
    return json_response(schemas.PractitionerList([
        schemas.PractitionerOut(id=p.id, name=p.name, treatments=[t.slug for t in p.treatments]) for p in rows
    ]))


# --- availability and plans ---------------------------------------------------------------
@api.get("/availability", tags=[booking_tag], responses={200: schemas.AvailabilityOut})
def get_availability(query: schemas.AvailabilityQuery):
    """Free slots the caller could book between two dates (inclusive, clinic time)."""
    body = availability.written_available_slots(
        _availability_json, g.get("actor"), treatment_slug=query.treatment, first_day=query.start,
        last_day=query.end, practitioner_id=query.practitioner, reuse=current_app.config["AVAILABILITY_MEMO"],
    )
    return current_app.response_class(body, mimetype="application/json")


def _availability_json(result: availability.Availability) -> str:
    """An availability answer as the API's JSON body."""
    return serialize.availability_json(result.starts, result.duration, result.treatment_slug, result.note)


@api.post("/series/plan", tags=[booking_tag], security=SECURITY, responses={200: schemas.PlanOut})
def plan_series(body: schemas.PlanIn):
    """Propose the whole series from a first start; books nothing."""
    plan, problems = booking.plan(
        actor_required(), treatment_slug=body.treatment, first_start=body.first_start,
        practitioner_id=body.practitioner_id, patient_id=body.patient_id, avoid_dates=body.avoid_dates,
    )
    return json_response(schemas.PlanOut(
        sessions=[schemas.PlannedSessionOut(
            index=s.index, start=serialize.local(s.start), end=serialize.local(s.end),
            practitioner_id=s.practitioner_id, placed=s.placed,
            alternatives=[serialize.slot(a) for a in s.alternatives],
        ) for s in plan.sessions],
        problems=[serialize.problem(p) for p in problems],
    ))


# --- appointments and series ----------------------------------------------------------------
def _answer_from_written_rows() -> None:
    """Keep what the use case wrote loaded after its commit.

    The answer is serialized from the rows just written; expiring them on commit made three
    more SELECTs per booking (appointment, treatment, settings) only to read back what this
    request had set. The session ends with the request, so nothing else sees the old state.
    """
    db.session().expire_on_commit = False


@api.post("/appointments", tags=[booking_tag], security=SECURITY, responses={201: schemas.AppointmentOut})
def create_appointment(body: schemas.AppointmentIn, header: schemas.IdempotencyHeader):
    """Book one appointment; staff give patient_id and may override rule problems with a reason."""
    actor = actor_required()
    _answer_from_written_rows()
    appointment = booking.book_appointment(
        actor, treatment_slug=body.treatment, start=body.start, practitioner_id=body.practitioner_id,
        patient_id=body.patient_id, override_reason=body.override_reason, idempotency_key=header.idempotency_key,
    )
    return json_response(serialize.appointment(appointment), 201)


@api.post("/series", tags=[booking_tag], security=SECURITY, responses={201: schemas.SeriesOut})
def create_series(body: schemas.SeriesIn, header: schemas.IdempotencyHeader):
    """Book a whole series: every session or none."""
    actor = actor_required()
    _answer_from_written_rows()
    series = booking.book_series(
        actor, treatment_slug=body.treatment,
        sessions=[SessionRequest(s.start, s.practitioner_id) for s in body.sessions],
        patient_id=body.patient_id, override_reason=body.override_reason, avoid_dates=body.avoid_dates,
        idempotency_key=header.idempotency_key,
    )
    return json_response(serialize.series(series), 201)


@api.get("/appointments", tags=[booking_tag], security=SECURITY, responses={200: schemas.AppointmentList})
def list_appointments(query: schemas.AppointmentsQuery):
    """The caller's own appointments (patients) or all (staff), optionally between two dates."""
    appointments = listing.appointments_for(actor_required(), first_day=query.start, last_day=query.end)
    return json_response(schemas.AppointmentList([serialize.appointment(a) for a in appointments]))


@api.get("/appointments/<int:appointment_id>", tags=[booking_tag], security=SECURITY,
         responses={200: schemas.AppointmentOut})
def get_appointment(path: schemas.AppointmentPath):
    """One appointment (patients: only their own; another's is a 404)."""
    return json_response(serialize.appointment(load_appointment_for(actor_required(), path.appointment_id)))


@api.patch("/appointments/<int:appointment_id>", tags=[booking_tag], security=SECURITY,
           responses={200: schemas.AppointmentOut})
def reschedule_appointment(path: schemas.AppointmentPath, body: schemas.AppointmentPatch):
    """Move an appointment; re-checks its series neighbours, or re-plans the later sessions."""
    appointment = changes.reschedule(
        actor_required(), path.appointment_id, start=body.start, practitioner_id=body.practitioner_id,
        override_reason=body.override_reason, replan_following=body.replan_following,
    )
    return json_response(serialize.appointment(appointment))


@api.post("/appointments/<int:appointment_id>/cancel", tags=[booking_tag], security=SECURITY,
          responses={200: schemas.AppointmentOut})
def cancel_appointment(path: schemas.AppointmentPath, body: schemas.CancelIn):
    """Cancel an appointment, or it and the rest of its series."""
    appointment = changes.cancel(
        actor_required(), path.appointment_id, reason=body.reason, rest_of_series=body.rest_of_series,
        override_reason=body.override_reason,
    )
    return json_response(serialize.appointment(appointment))


@api.get("/appointments/<int:appointment_id>/invite.ics", tags=[booking_tag], security=SECURITY,
         responses={200: {"content": {"text/calendar": {"schema": {"type": "string"}}}}})
def get_invite(path: schemas.AppointmentPath):
    """The appointment's current invite (REQUEST, or CANCEL once cancelled)."""
    return invite_response(load_appointment_for(actor_required(), path.appointment_id))
