"""Booking use cases: one appointment, a series plan, a whole series (all or nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from booking.database import begin_write, retry_deadlocks
from booking.extensions import db
from booking.mail import notifications
from booking.models import Appointment, Practitioner, Series, Treatment, User
from booking.models.base import utcnow
from booking.scheduling import (
    BookedAppointment,
    Interval,
    Problem,
    ProposedSession,
    SeriesPlan,
    check_booking,
    pick_room,
    plan_series,
)
from booking.services import audit, idempotency, rule_cache, schedules
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import InvalidRequest
from booking.services.loading import (
    RuleContext,
    load_context,
    load_treatment,
    patient_facts,
    resolve_patient,
)
from booking.services.rules import conflict_from_integrity_error, decide


@dataclass(frozen=True)
class SessionRequest:
    """One session asked for: its start and practitioner."""

    start: datetime
    practitioner_id: int


def require_aware(moment: datetime, name: str) -> None:
    """Refuse naive datetimes: a time without an offset is ambiguous."""
    if moment.tzinfo is None:
        raise InvalidRequest(f"{name} needs a time zone offset, e.g. 2026-03-10T10:00:00+01:00.",
                             code="naive_datetime")


def check_practitioner_exists(practitioner_id: int) -> None:
    """400 for a practitioner id that does not exist."""
    if any(p.practitioner_id == practitioner_id for p in rule_cache.current_rules().practitioners):
        return  # an active one: no query needed
    if db.session.get(Practitioner, practitioner_id) is None:
        raise InvalidRequest(f"There is no practitioner with id {practitioner_id}; see GET /api/v1/practitioners.",
                             code="unknown_practitioner")


def assign_rooms(
    spec, sessions: Sequence[ProposedSession], context: RuleContext
) -> tuple[list[ProposedSession], list[BookedAppointment]]:
    """Give each session a free room (earlier sessions of the request hold theirs)."""
    held = list(context.booked)
    out = []
    for n, session in enumerate(sessions):
        room_id = None
        if spec.needs_room:
            end = session.start + timedelta(minutes=spec.duration_minutes)
            room_id = pick_room(spec, Interval(session.start, end), context.room_list, held)
            if room_id is None:
                # No free room: name a serving one so the checks report it as taken, not wrong.
                room_id = next((r.room_id for r in context.room_list if spec.treatment_id in r.treatment_ids), None)
            if room_id is not None:
                held.append(BookedAppointment(
                    appointment_id=-(n + 1), patient_id=-1, practitioner_id=-1, room_id=room_id,
                    treatment_id=spec.treatment_id, body_area=None, start=session.start, end=end,
                    buffer_before_minutes=spec.buffer_before_minutes,
                    buffer_after_minutes=spec.buffer_after_minutes,
                ))
        out.append(ProposedSession(session.start, session.practitioner_id, room_id, session.index))
    return out, held


def _new_appointment(treatment: Treatment, patient: User, session: ProposedSession, actor: Actor,
                     override_reason: str | None, series: Series | None = None) -> Appointment:
    """An unsaved appointment for one checked session."""
    appointment = Appointment(
        patient_id=patient.id, practitioner_id=session.practitioner_id, room_id=session.room_id,
        treatment_id=treatment.id, series=series, series_index=session.index if series else None,
        status="booked", override_reason=override_reason, created_by_id=actor.user_id,
        updated_by_id=actor.user_id,
    )
    appointment.place(session.start, treatment.duration_minutes, treatment.buffer_before_minutes,
                      treatment.buffer_after_minutes)
    return appointment


def flush_or_conflict(session_index: int | None = None) -> None:
    """Flush; a no-overlap constraint failure becomes a 409 with nothing written."""
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        conflict = conflict_from_integrity_error(error, session_index)
        if conflict is None:
            raise
        raise conflict from None


@retry_deadlocks
def book_appointment(
    actor: Actor,
    *,
    treatment_slug: str,
    start: datetime,
    practitioner_id: int,
    patient_id: int | None = None,
    override_reason: str | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book one appointment (a consultation or a single session) in one transaction."""
    require_aware(start, "start")
    begin_write(db.session)
    replay = idempotency.find(actor.user_id, idempotency_key, "POST /appointments")
    if replay is not None:
        return db.session.get(Appointment, replay.response["appointment_id"])
    now = now or utcnow()
    treatment = load_treatment(treatment_slug)
    patient = resolve_patient(actor, patient_id)
    check_practitioner_exists(practitioner_id)
    spec = schedules.treatment_spec(treatment)
    end = start + timedelta(minutes=treatment.duration_minutes)
    context = load_context(start, end, treatment_id=treatment.id, practitioner_ids=[practitioner_id],
                           patient_id=patient.id)
    sessions, _ = assign_rooms(spec, [ProposedSession(start, practitioner_id, None, None)], context)
    facts = patient_facts(patient.id, treatment)
    problems = check_booking(
        spec, sessions, patient_id=patient.id, practitioners=context.practitioners,
        rooms=context.rooms, booked=context.booked, policy=context.policy, now=now,
        consultation_starts=facts.consultation_starts, contraindicated_ids=facts.contraindicated_ids,
    )
    overridden = decide(actor, problems, override_reason)
    appointment = _new_appointment(treatment, patient, sessions[0], actor,
                                   override_reason if overridden else None)
    db.session.add(appointment)
    flush_or_conflict()
    audit.record_appointment("appointment.booked", appointment, actor_id=actor.user_id,
                             reason=override_reason if overridden else None, overridden=overridden)
    notifications.queue_invite(appointment, get_settings(), "booked")
    idempotency.remember(actor.user_id, idempotency_key, "POST /appointments", 201,
                         {"appointment_id": appointment.id})
    db.session.commit()
    return appointment


def plan(
    actor: Actor,
    *,
    treatment_slug: str,
    first_start: datetime,
    practitioner_id: int | None = None,
    patient_id: int | None = None,
    avoid_dates: Sequence[date] = (),
    now: datetime | None = None,
) -> tuple[Treatment, SeriesPlan, list[Problem]]:
    """Propose a whole series from ``first_start``; books nothing.

    Returns the plan and every problem booking it would meet (the planner's, plus the rules
    that depend on the patient: consultation, contraindication, prep window, aftercare).
    """
    require_aware(first_start, "first_start")
    now = now or utcnow()
    treatment = load_treatment(treatment_slug)
    patient = resolve_patient(actor, patient_id) if (actor.is_patient or patient_id is not None) else None
    if practitioner_id is not None:
        check_practitioner_exists(practitioner_id)
    spec = schedules.treatment_spec(treatment)
    protocol = spec.protocol
    span_days = (protocol.interval_max_days or 0) * max(1, protocol.sessions) + 1
    context = load_context(first_start - timedelta(days=1), first_start + timedelta(days=span_days + 15),
                           treatment_id=treatment.id)
    series_plan = plan_series(
        spec, first_start, context.practitioner_list, context.room_list, context.booked, context.policy, now,
        practitioner_id=practitioner_id, patient_id=patient.id if patient else None,
        avoid_dates=tuple(avoid_dates),
    )
    problems = list(series_plan.problems)
    placed = [ProposedSession(s.start, s.practitioner_id, s.room_id, s.index)
              for s in series_plan.sessions if s.placed and s.practitioner_id is not None]
    if placed:
        facts = patient_facts(patient.id, treatment) if patient else None
        checked = check_booking(
            spec, placed, patient_id=patient.id if patient else -1, practitioners=context.practitioners,
            rooms=context.rooms, booked=context.booked, policy=context.policy, now=now,
            consultation_starts=facts.consultation_starts if facts else (),
            contraindicated_ids=facts.contraindicated_ids if facts else frozenset(),
        )
        if patient is None:
            # Without a patient, patient-specific rules cannot be judged yet.
            checked = [p for p in checked if p.code not in ("consultation_required", "contraindicated")]
        problems += [p for p in checked if p not in problems]
    return treatment, series_plan, problems


@retry_deadlocks
def book_series(
    actor: Actor,
    *,
    treatment_slug: str,
    sessions: Sequence[SessionRequest],
    patient_id: int | None = None,
    override_reason: str | None = None,
    avoid_dates: Sequence[date] = (),
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Series:
    """Book every session of a series or none, in one transaction."""
    for n, s in enumerate(sessions):
        require_aware(s.start, f"sessions[{n}].start")
    begin_write(db.session)
    replay = idempotency.find(actor.user_id, idempotency_key, "POST /series")
    if replay is not None:
        return db.session.get(Series, replay.response["series_id"])
    now = now or utcnow()
    treatment = load_treatment(treatment_slug)
    patient = resolve_patient(actor, patient_id)
    spec = schedules.treatment_spec(treatment)
    if not 1 <= len(sessions) <= spec.protocol.sessions:
        raise InvalidRequest(
            f"{treatment.name} is a series of {spec.protocol.sessions} session(s); "
            f"send between 1 and {spec.protocol.sessions} sessions, not {len(sessions)}.",
            code="wrong_session_count",
        )
    for s in sessions:
        check_practitioner_exists(s.practitioner_id)
    ordered = sorted(sessions, key=lambda s: s.start)
    proposed = [ProposedSession(s.start, s.practitioner_id, None, i) for i, s in enumerate(ordered)]
    context = load_context(ordered[0].start, ordered[-1].start + timedelta(minutes=spec.duration_minutes),
                           treatment_id=treatment.id, practitioner_ids={s.practitioner_id for s in ordered})
    proposed, _ = assign_rooms(spec, proposed, context)
    facts = patient_facts(patient.id, treatment)
    problems = check_booking(
        spec, proposed, patient_id=patient.id, practitioners=context.practitioners,
        rooms=context.rooms, booked=context.booked, policy=context.policy, now=now,
        consultation_starts=facts.consultation_starts, contraindicated_ids=facts.contraindicated_ids,
    )
    overridden = decide(actor, problems, override_reason)
    reason = override_reason if overridden else None
    series = Series(patient_id=patient.id, treatment_id=treatment.id, status="active",
                    avoid_dates=[d.isoformat() for d in avoid_dates], created_by_id=actor.user_id)
    db.session.add(series)
    appointments = []
    for session in proposed:
        appointment = _new_appointment(treatment, patient, session, actor, reason, series)
        db.session.add(appointment)
        appointments.append(appointment)
        flush_or_conflict(session.index)
    audit.record("series.booked", actor_id=actor.user_id, entity_type="series", entity_id=series.id,
                 after={"treatment": treatment.slug, "sessions": len(appointments),
                        "overridden": overridden or None},
                 reason=reason, patient_id=patient.id)
    for appointment in appointments:
        audit.record_appointment("appointment.booked", appointment, actor_id=actor.user_id,
                                 reason=reason, overridden=overridden)
    notifications.queue_series_confirmation(series, appointments, get_settings())
    idempotency.remember(actor.user_id, idempotency_key, "POST /series", 201, {"series_id": series.id})
    db.session.commit()
    return series
