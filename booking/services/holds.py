"""Holds (issue 15): a time kept for one patient for a while, busy for everyone else.

A hold is an appointment row with status ``held`` until ``hold_expires_at``, written through
the booking pipeline (every rule applies, as to a booking: 409/422), so the database's
no-overlap rules (PostgreSQL exclusion constraints, SQLite's serialized writes and triggers)
guarantee that two holds, or a hold and a booking, never overlap. An expired hold counts for
nothing: the free times and the rules stop seeing it at its expiry, and the next write over
its time removes it first (``booking.purge_expired_holds``); ``expire_holds`` (the timer) tidies
the rest. Accepting a hold turns that same row into the appointment in one transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import delete, select

from booking.database import begin_write, retry_deadlocks
from booking.extensions import db
from booking.mail import notifications
from booking.models import HELD, Appointment
from booking.models.base import utcnow
from booking.scheduling import ProposedSession
from booking.services import audit
from booking.services.actor import Actor
from booking.services.booking import Booking, check_practitioner_exists, require_aware, write_sessions
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest, NotFound, ServiceError
from booking.services.loading import load_treatment, resolve_patient

DEFAULT_MINUTES = 15
MAX_MINUTES = 24 * 60  # a day


class HoldExpired(ServiceError):
    """The hold ran out before it was accepted (410: it will not come back)."""

    status = 410
    code = "hold_expired"


@retry_deadlocks
def create_hold(actor: Actor, *, treatment_slug: str, start: datetime, practitioner_id: int,
                patient_id: int | None = None, minutes: int | None = None, now: datetime | None = None,
                offer_id: int | None = None, commit: bool = True) -> Appointment:
    """Hold ``start`` with ``practitioner_id`` for the patient for ``minutes`` (default 15, at
    most a day); every booking rule applies. Patients hold for themselves; staff for a patient."""
    require_aware(start, "start")
    minutes = DEFAULT_MINUTES if minutes is None else minutes
    if not 1 <= minutes <= MAX_MINUTES:
        raise InvalidRequest(gettext("A hold lasts from 1 minute to %(num)d minutes (a day).", num=MAX_MINUTES),
                             code="bad_minutes")
    begin_write(db.session)
    now = now or utcnow()
    treatment = load_treatment(treatment_slug)
    patient = resolve_patient(actor, patient_id)
    check_practitioner_exists(practitioner_id)
    written, _ = write_sessions(Booking(
        actor, treatment, patient, [ProposedSession(start, practitioner_id, None, None)], None, now,
        hold_until=utcnow() + timedelta(minutes=minutes), offer_id=offer_id,
    ))
    if commit:
        db.session.commit()
    return written[0]


def _own_hold(actor: Actor, hold_id: int, *, for_update: bool = False) -> Appointment:
    """A hold the caller may use: the patient's own, or any for reception and admin; else 404."""
    if actor.is_staff and not actor.can_book_for_others:
        raise Forbidden(gettext("Practitioners can read the calendar; a receptionist books for patients."))
    query = select(Appointment).where(Appointment.id == hold_id, Appointment.status == HELD)
    if for_update and db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    hold = db.session.scalar(query)
    if hold is None or (actor.is_patient and hold.patient_id != actor.user_id):
        raise NotFound(gettext("There is no hold %(id)s (it may have been booked, released or removed).", id=hold_id))
    return hold


def load_hold(actor: Actor, hold_id: int) -> Appointment:
    """A hold the caller may see."""
    return _own_hold(actor, hold_id)


def accept(hold: Appointment, *, actor_id: int, now: datetime) -> Appointment:
    """Turn ``hold`` into the appointment, in the caller's transaction (no commit): the same
    row, booked, with its invite queued. HoldExpired once it has run out."""
    if hold.hold_expires_at is None or hold.hold_expires_at <= now:
        raise HoldExpired(gettext("This hold has expired; the time may have gone to someone else. Choose another time."))
    hold.status, hold.hold_expires_at, hold.offer_id = "booked", None, None
    hold.updated_by_id, hold.updated_at = actor_id, utcnow()
    db.session.flush()
    audit.record_appointment("appointment.booked", hold, actor_id=actor_id)
    notifications.queue_invite(hold, get_settings(), "booked")
    return hold


@retry_deadlocks
def book_hold(actor: Actor, hold_id: int, *, now: datetime | None = None) -> Appointment:
    """Book a hold: the appointment made from it in one transaction (410 once it has expired)."""
    begin_write(db.session)
    hold = _own_hold(actor, hold_id, for_update=True)
    appointment = accept(hold, actor_id=actor.user_id, now=now or utcnow())
    db.session.commit()
    return appointment


def release_hold(actor: Actor, hold_id: int) -> None:
    """Give a held time back at once; audited."""
    begin_write(db.session)
    hold = _own_hold(actor, hold_id, for_update=True)
    audit.record("hold.released", actor_id=actor.user_id, entity_type="appointment", entity_id=hold.id,
                 patient_id=hold.patient_id, before=audit.snapshot(hold))
    db.session.delete(hold)
    db.session.commit()


def expire_holds(now: datetime | None = None) -> int:
    """Remove every hold that has run out (``flask waitlist run``); returns how many. They
    already counted for nothing: this only tidies the table."""
    begin_write(db.session)
    result = db.session.execute(delete(Appointment).where(
        Appointment.status == HELD, Appointment.hold_expires_at <= (now or utcnow()),
    ).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount or 0
