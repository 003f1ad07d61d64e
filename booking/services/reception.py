"""Reception's use cases: find or add a patient, check-in, complete, no-show, resend an invite.

Moves and cancellations go through ``booking.services.changes`` (the same rules as everywhere);
this module covers what only the front desk does. Every change is one transaction with its
audit event. Which actions apply to an appointment is decided once, by ``why_not``: the panel
shows only those, and the services refuse the rest (a move or cancel is checked by
``require_applicable`` before ``changes`` applies its own rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext, lazy_gettext
from sqlalchemy import func, or_, select

from booking.database import begin_write
from booking.extensions import db
from booking.mail import notifications
from booking.mail.rendering import MailRenderer
from booking.models import HELD, Appointment, Treatment, User
from booking.models.base import utcnow
from booking.scheduling import Slot
from booking.scheduling.clock import local_date, local_day_bounds
from booking.scheduling.rulebook import consultations_allowed
from booking.services import audit, choices, schedules
from booking.services.actor import Actor
from booking.services.changes import InvalidState, status_word, update_series_status
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest, NotFound
from booking.services.loading import patient_facts
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

# Why a status change does not apply, one whole sentence per target status (languages order
# words differently, so a status is never glued into a sentence made for another one).
_CANNOT_MARK = {
    "checked_in": lazy_gettext("This appointment is %(state)s; it cannot be marked checked in."),
    "completed": lazy_gettext("This appointment is %(state)s; it cannot be marked completed."),
    "no_show": lazy_gettext("This appointment is %(state)s; it cannot be marked no show."),
}
_NOT_ON_THE_DAY = {
    "checked_in": lazy_gettext("An appointment can be marked checked in only on the day of the appointment "
                               "(clinic time)."),
    "completed": lazy_gettext("An appointment can be marked completed only on the day of the appointment "
                              "(clinic time)."),
    "no_show": lazy_gettext("An appointment can be marked no show only on the day of the appointment "
                            "(clinic time)."),
}
_NOT_STARTED = {
    "checked_in": lazy_gettext("An appointment can be marked checked in only once it has started."),
    "completed": lazy_gettext("An appointment can be marked completed only once it has started."),
    "no_show": lazy_gettext("An appointment can be marked no show only once it has started."),
}



def require_front_desk(actor: Actor) -> None:
    """Only reception and admin change bookings for patients."""
    if not actor.can_book_for_others:
        raise Forbidden(gettext("Only reception and administrators can do this."))


def _load(appointment_id: int) -> Appointment:
    """The appointment (locked for update on PostgreSQL), or NotFound."""
    query = select(Appointment).where(Appointment.id == appointment_id, Appointment.status != HELD)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    appointment = db.session.scalar(query)
    if appointment is None:
        raise NotFound(gettext("There is no appointment %(id)s.", id=appointment_id))
    return appointment


# The front desk's actions on one appointment, in the order the panel shows them.
ACTIONS = ("check_in", "complete", "no_show", "move", "cancel", "resend")


def why_not(appointment: Appointment, action: str, *, now: datetime | None = None) -> str | None:
    """Why ``action`` does not apply to ``appointment`` now, or None when it does.

    The one place that decides: the panel shows only the actions this allows and the services
    refuse the others with its words. Check-in is open on the appointment's own day (clinic
    time); completed and no-show from its start; moving while it is booked; cancelling and
    resending the invite while it is booked or checked in and not yet over (after that it is
    completed or a no-show); resending only to a patient with an e-mail address.
    """
    now = now or utcnow()
    state = status_word(appointment.status)
    transition = TRANSITIONS.get(action)
    if transition is not None:
        if appointment.status not in transition.allowed_from:
            return str(_CANNOT_MARK[transition.to]) % {"state": state}
        tz = get_settings().timezone
        if transition.not_before == "day":
            day = local_day_bounds(local_date(appointment.start_at, tz), tz)
            if not day.start <= now < day.end:
                return str(_NOT_ON_THE_DAY[transition.to])
        elif now < appointment.start_at:
            return str(_NOT_STARTED[transition.to])
        return None
    if action == "move":
        return None if appointment.status == "booked" else gettext(
            "This appointment is %(state)s; it cannot be moved.", state=state)
    if action in ("cancel", "resend"):
        if appointment.status not in ("booked", "checked_in"):
            return (gettext("This appointment is %(state)s; it cannot be cancelled.", state=state)
                    if action == "cancel" else
                    gettext("This appointment is %(state)s; there is no invite to send.", state=state))
        if now >= appointment.end_at:
            return (gettext("This appointment is over; mark it completed or a no-show instead of cancelling it.")
                    if action == "cancel" else gettext("This appointment is over; there is no invite to send."))
        if action == "resend" and not appointment.patient.email:
            return gettext("This patient has no e-mail address, so there is no invite to send; add one first.")
        return None
    return gettext("Unknown action %(action)s.", action=repr(action))


def applicable_actions(appointment: Appointment, *, now: datetime | None = None) -> frozenset[str]:
    """The front-desk actions that apply to ``appointment`` now (see ``why_not``)."""
    now = now or utcnow()
    return frozenset(a for a in ACTIONS if why_not(appointment, a, now=now) is None)


def require_applicable(actor: Actor, appointment_id: int, action: str, *, now: datetime | None = None) -> Appointment:
    """The appointment when ``action`` applies to it now; else InvalidState with ``why_not``'s words
    (a move or cancel is checked here before ``changes`` applies its own rules)."""
    require_front_desk(actor)
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(gettext("There is no appointment %(id)s.", id=appointment_id))
    reason = why_not(appointment, action, now=now)
    if reason is not None:
        raise InvalidState(reason)
    return appointment


def change_status(actor: Actor, appointment_id: int, action: str, *, now: datetime | None = None) -> Appointment:
    """Check in, complete or mark a no-show, when ``why_not`` allows it; audited."""
    require_front_desk(actor)
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise InvalidState(gettext("Unknown action %(action)s.", action=repr(action)))
    begin_write(db.session)
    now = now or utcnow()
    appointment = _load(appointment_id)
    reason = why_not(appointment, action, now=now)
    if reason is not None:
        raise InvalidState(reason)
    before = audit.snapshot(appointment)
    appointment.status = transition.to
    appointment.updated_by_id = actor.user_id
    appointment.updated_at = utcnow()
    db.session.flush()
    audit.record_appointment(f"appointment.{transition.action}", appointment, actor_id=actor.user_id, before=before)
    if appointment.series is not None:
        update_series_status(appointment.series)
    if transition.to == "completed":
        from booking.services.course import session_completed  # aftercare, and the recall at a series' end

        session_completed(appointment)
    db.session.commit()
    return appointment


def resend_invite(actor: Actor, appointment_id: int, *, mail: MailRenderer | None = None,
                  now: datetime | None = None) -> Appointment:
    """Queue the current invite again (same UID and SEQUENCE: calendars just confirm the event),
    written with ``mail`` (default: the installed renderer), when ``why_not`` allows it."""
    require_front_desk(actor)
    begin_write(db.session)
    appointment = _load(appointment_id)
    reason = why_not(appointment, "resend", now=now)
    if reason is not None:
        raise InvalidState(reason)
    message = notifications.queue_invite_again(appointment, get_settings(), mail=mail)
    db.session.flush()
    audit.record("appointment.invite_resent", actor_id=actor.user_id, entity_type="appointment",
                 entity_id=appointment.id, patient_id=appointment.patient_id, appointment_id=appointment.id,
                 after={"outbox_id": message.id, "to": appointment.patient.email,
                        "sequence": appointment.ical_sequence})
    db.session.commit()
    return appointment


@dataclass(frozen=True)
class NextFree:
    """The first free start found (None: none up to the booking horizon), and a note for staff
    when the patient's consultation does not yet allow the treatment."""

    slot: Slot | None
    note: str | None = None


def next_free_start(
    treatment: Treatment, *, earliest: datetime, patient_id: int | None, practitioner_id: int | None = None,
    now: datetime | None = None, chunk_days: int = 14,
) -> NextFree:
    """The first start at or after ``earliest`` (and now) that the rules allow for the patient,
    with ``practitioner_id`` or anyone: the booking pages' own free-time search (patient busy,
    consultation, notice, hours, rooms, buffers), a fortnight at a time up to the booking
    horizon. A patient whose consultation does not yet allow the treatment gets the first start
    that is otherwise free, and a note (staff may override that rule with a reason)."""
    now = now or utcnow()
    settings = get_settings()
    tz = settings.timezone
    earliest = max(earliest, now)
    protocol = schedules.treatment_spec(treatment).protocol
    facts = patient_facts(patient_id, treatment) if patient_id else None
    within = consultations_allowed(protocol, facts.consultation_starts, tz) if facts else None
    note = None
    if within is not None and not within:
        within = None
        note = gettext("%(treatment)s needs a consultation first; staff may override this with a reason.",
                       treatment=treatment.name)
    first, last = local_date(earliest, tz), local_date(now, tz) + timedelta(days=settings.horizon_days)
    while first <= last:
        chunk_last = min(first + timedelta(days=chunk_days - 1), last)
        for slot in choices.free_for_patient(treatment, first, chunk_last, now=now, patient_id=patient_id,
                                             within=within):
            if slot.start >= earliest and practitioner_id in (None, slot.practitioner_id):
                return NextFree(slot, note)
        first = chunk_last + timedelta(days=1)
    return NextFree(None, note)


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
        raise InvalidRequest(gettext("Give an e-mail address or a phone number, so the clinic can reach the patient."))
    if email and db.session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise EmailTaken(gettext("A patient with this e-mail already exists; search for them instead."))
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
