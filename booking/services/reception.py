"""Reception's use cases: find or add a patient, check-in, complete, no-show, resend an invite.

Moves and cancellations go through ``booking.services.changes`` (the same rules as everywhere);
this module covers what only the front desk does. Every change is one transaction with its
audit event; a status change must follow ``TRANSITIONS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from booking.database import begin_write
from booking.extensions import db
from booking.mail import notifications
from booking.mail.rendering import MailRenderer
from booking.models import Appointment, User
from booking.models.base import utcnow
from booking.scheduling.clock import local_date, local_day_bounds
from booking.services import audit
from booking.services.actor import Actor
from booking.services.changes import InvalidState, update_series_status
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest, NotFound
from booking.services.patients import EmailTaken, normalise_email


@dataclass(frozen=True)
class Transition:
    """A front-desk status change: from which statuses, to which, and from when it is allowed."""

    action: str
    allowed_from: tuple[str, ...]
    to: str
    not_before: str  # "day": from the appointment's local day; "start": from its start time


TRANSITIONS = {
    "check_in": Transition("checked_in", ("booked",), "checked_in", "day"),
    "complete": Transition("completed", ("booked", "checked_in"), "completed", "start"),
    "no_show": Transition("no_show", ("booked",), "no_show", "start"),
}


def require_front_desk(actor: Actor) -> None:
    """Only reception and admin change bookings for patients."""
    if not actor.can_book_for_others:
        raise Forbidden("Only reception and administrators can do this.")


def _load(appointment_id: int) -> Appointment:
    """The appointment (locked for update on PostgreSQL), or NotFound."""
    query = select(Appointment).where(Appointment.id == appointment_id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    appointment = db.session.scalar(query)
    if appointment is None:
        raise NotFound(f"There is no appointment {appointment_id}.")
    return appointment


def change_status(actor: Actor, appointment_id: int, action: str, *, now: datetime | None = None) -> Appointment:
    """Check in, complete or mark a no-show, following ``TRANSITIONS``; audited."""
    require_front_desk(actor)
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise InvalidState(f"Unknown action {action!r}.")
    begin_write(db.session)
    now = now or utcnow()
    appointment = _load(appointment_id)
    if appointment.status not in transition.allowed_from:
        raise InvalidState(
            f"This appointment is {appointment.status.replace('_', ' ')}; it cannot be marked "
            f"{transition.to.replace('_', ' ')}."
        )
    tz = get_settings().timezone
    earliest = (local_day_bounds(local_date(appointment.start_at, tz), tz).start
                if transition.not_before == "day" else appointment.start_at)
    if now < earliest:
        when = "on the day of the appointment" if transition.not_before == "day" else "once it has started"
        raise InvalidState(f"An appointment can be marked {transition.to.replace('_', ' ')} only {when}.")
    before = audit.snapshot(appointment)
    appointment.status = transition.to
    appointment.updated_by_id = actor.user_id
    appointment.updated_at = utcnow()
    db.session.flush()
    audit.record_appointment(f"appointment.{transition.action}", appointment, actor_id=actor.user_id, before=before)
    if appointment.series is not None:
        update_series_status(appointment.series)
    db.session.commit()
    return appointment


def resend_invite(actor: Actor, appointment_id: int, *, mail: MailRenderer | None = None) -> Appointment:
    """Queue the current invite again (same UID and SEQUENCE: calendars just confirm the event),
    written with ``mail`` (default: the installed renderer)."""
    require_front_desk(actor)
    begin_write(db.session)
    appointment = _load(appointment_id)
    if appointment.status not in ("booked", "checked_in"):
        raise InvalidState(f"This appointment is {appointment.status.replace('_', ' ')}; there is no invite to send.")
    if not appointment.patient.email:
        raise InvalidState("This patient has no e-mail address; add one to send them the invite.")
    message = notifications.queue_invite_again(appointment, get_settings(), mail=mail)
    db.session.flush()
    audit.record("appointment.invite_resent", actor_id=actor.user_id, entity_type="appointment",
                 entity_id=appointment.id, patient_id=appointment.patient_id, appointment_id=appointment.id,
                 after={"outbox_id": message.id, "to": appointment.patient.email,
                        "sequence": appointment.ical_sequence})
    db.session.commit()
    return appointment


def find_patients(query: str, *, limit: int = 20) -> list[User]:
    """Active patients whose name, e-mail or phone contains ``query`` (digits match any phone layout)."""
    text = query.strip()
    if len(text) < 2:
        return []
    like = f"%{text.lower()}%"
    conditions = [func.lower(User.name).like(like), func.lower(User.email).like(like)]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3:
        bare_phone = User.phone
        for char in (" ", "-", ".", "/", "(", ")", "+"):
            bare_phone = func.replace(bare_phone, char, "")
        conditions.append(bare_phone.like(f"%{digits}%"))
    return list(db.session.scalars(
        select(User).where(User.role == "patient", User.active.is_(True), or_(*conditions))
        .order_by(User.name, User.id).limit(limit)
    ))


def create_patient(actor: Actor, *, name: str, email: str | None, phone: str) -> User:
    """Add a patient who phoned in: no password yet (they can set one with "forgot password").

    An e-mail address or a phone number is needed; without an address the patient gets no mail.
    """
    require_front_desk(actor)
    begin_write(db.session)
    email = normalise_email(email) if email and email.strip() else None
    if email is None and not phone.strip():
        raise InvalidRequest("Give an e-mail address or a phone number, so the clinic can reach the patient.")
    if email and db.session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise EmailTaken("A patient with this e-mail already exists; search for them instead.")
    user = User(name=name.strip(), email=email, phone=phone.strip(), role="patient", password_hash="")
    db.session.add(user)
    db.session.flush()
    audit.record("patient.created", actor_id=actor.user_id, entity_type="user", entity_id=user.id,
                 patient_id=user.id, after={"name": user.name, "email": email, "phone": user.phone})
    db.session.commit()
    return user


def upcoming_for(patient_id: int, *, now: datetime | None = None, days: int = 400) -> list[Appointment]:
    """The patient's booked appointments from now on (for the panel and the erasure check)."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(Appointment).where(Appointment.patient_id == patient_id, Appointment.status == "booked",
                                  Appointment.start_at >= now, Appointment.start_at < now + timedelta(days=days))
        .order_by(Appointment.start_at)
    ))
