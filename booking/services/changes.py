"""Changing bookings: reschedule one appointment (optionally re-planning the rest of its
series) and cancel one appointment or the rest of a series."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from booking.database import begin_write, retry_deadlocks
from booking.extensions import db
from booking.mail import notifications
from booking.models import Appointment, BLOCKING_STATUSES, Series
from booking.models.base import utcnow
from booking.scheduling import (
    Problem,
    ProposedSession,
    check_booking,
    check_cancellation_cutoff,
    plan_series,
)
from booking.services import audit, schedules
from booking.services.actor import Actor
from booking.services.booking import assign_rooms, check_practitioner_exists, flush_or_conflict, require_aware
from booking.services.clinic import get_settings
from booking.services.errors import ServiceError
from booking.services.loading import (
    load_appointment_for,
    load_context,
    load_treatment,
    patient_facts,
    require_writer,
)
from booking.services.rules import decide


class InvalidState(ServiceError):
    """The appointment's status does not allow this change (409)."""

    status = 409
    code = "invalid_state"


def _series_neighbours(appointment: Appointment) -> tuple[list[Appointment], list[Appointment]]:
    """The active sessions of the appointment's series before and after it."""
    if appointment.series is None:
        return [], []
    others = [a for a in appointment.series.appointments
              if a.id != appointment.id and a.status in BLOCKING_STATUSES]
    before = [a for a in others if (a.series_index or 0) < (appointment.series_index or 0)]
    after = [a for a in others if (a.series_index or 0) > (appointment.series_index or 0)]
    return before, after


def _cutoff_problems(appointment: Appointment, now: datetime) -> list[Problem]:
    """The cancellation cut-off applies to changes of an existing booking."""
    policy = schedules.clinic_policy(get_settings())
    return check_cancellation_cutoff(appointment.start_at, now, policy, session_index=appointment.series_index)


@retry_deadlocks
def reschedule(
    actor: Actor,
    appointment_id: int,
    *,
    start: datetime,
    practitioner_id: int | None = None,
    override_reason: str | None = None,
    replan_following: bool = False,
    now: datetime | None = None,
) -> Appointment:
    """Move one appointment; re-checks its series neighbours, or re-plans the following sessions."""
    require_aware(start, "start")
    begin_write(db.session)
    now = now or utcnow()
    require_writer(actor)
    appointment = load_appointment_for(actor, appointment_id, for_update=True)
    if appointment.status != "booked":
        raise InvalidState(f"Only a booked appointment can be moved; this one is {appointment.status}.")
    practitioner_id = practitioner_id or appointment.practitioner_id
    check_practitioner_exists(practitioner_id)
    treatment = load_treatment(appointment.treatment.slug)
    spec = schedules.treatment_spec(treatment)
    before_sessions, after_sessions = _series_neighbours(appointment)
    moving = [appointment] + (after_sessions if replan_following else [])
    ignore = frozenset(a.id for a in moving)

    new_starts = {appointment.id: (start, practitioner_id)}
    problems = _cutoff_problems(appointment, now)
    if replan_following and after_sessions:
        problems += _replan(spec, appointment, after_sessions, start, practitioner_id, ignore, now, new_starts)

    sessions = [ProposedSession(new_starts[a.id][0], new_starts[a.id][1], None, a.series_index) for a in moving]
    last_end = max(s.start for s in sessions) + timedelta(minutes=spec.duration_minutes)
    context = load_context(min(s.start for s in sessions), last_end, treatment_id=treatment.id,
                           practitioner_ids={s.practitioner_id for s in sessions}, patient_id=appointment.patient_id)
    context = replace(context, booked=[b for b in context.booked if b.appointment_id not in ignore])
    sessions, _ = assign_rooms(spec, sessions, context)
    facts = patient_facts(appointment.patient_id, treatment)
    neighbour_before = max((a.start_at for a in before_sessions), default=None)
    neighbour_after = None if replan_following else min((a.start_at for a in after_sessions), default=None)
    problems += check_booking(
        spec, sessions, patient_id=appointment.patient_id, practitioners=context.practitioners,
        rooms=context.rooms, booked=context.booked, policy=context.policy, now=now,
        consultation_starts=facts.consultation_starts, contraindicated_ids=facts.contraindicated_ids,
        ignore_ids=ignore, neighbours_before=neighbour_before, neighbours_after=neighbour_after,
    )
    if appointment.series_index not in (None, 0):
        # The consultation rule binds only the first session of a series.
        problems = [p for p in problems if p.code != "consultation_required"]
    overridden = decide(actor, list(dict.fromkeys(problems)), override_reason)
    settings = get_settings()
    by_id = {a.id: a for a in moving}
    for session, moved in zip(sessions, moving):
        if moved.start_at == session.start and moved.practitioner_id == session.practitioner_id \
                and moved.room_id == session.room_id:
            continue
        snapshot = audit.snapshot(moved)
        moved.practitioner_id = session.practitioner_id
        moved.room_id = session.room_id
        moved.place(session.start, treatment.duration_minutes, treatment.buffer_before_minutes,
                    treatment.buffer_after_minutes)
        moved.ical_sequence += 1
        moved.updated_by_id = actor.user_id
        moved.updated_at = utcnow()
        if overridden:
            moved.override_reason = override_reason
        flush_or_conflict(moved.series_index)
        audit.record_appointment("appointment.moved", moved, actor_id=actor.user_id, before=snapshot,
                                 reason=override_reason if overridden else None, overridden=overridden)
        notifications.queue_invite(by_id[moved.id], settings, "moved")
    db.session.commit()
    return appointment


def _replan(spec, appointment, following, start, practitioner_id, ignore, now, new_starts) -> list[Problem]:
    """Plan the following sessions again from the moved one; fill ``new_starts``."""
    protocol = replace(spec.protocol, sessions=len(following) + 1)
    plan_spec = replace(spec, protocol=protocol)
    span = (protocol.interval_max_days or 0) * protocol.sessions + 15
    context = load_context(start - timedelta(days=1), start + timedelta(days=span), treatment_id=spec.treatment_id)
    booked = [b for b in context.booked if b.appointment_id not in ignore]
    series = appointment.series
    plan = plan_series(
        plan_spec, start, context.practitioner_list, context.room_list, booked, context.policy, now,
        practitioner_id=practitioner_id, patient_id=appointment.patient_id,
        avoid_dates=series.avoid_days() if series else (),
    )
    problems = []
    offset = appointment.series_index or 0
    for planned, later in zip(plan.sessions[1:], following):
        if planned.placed and planned.practitioner_id is not None:
            new_starts[later.id] = (planned.start, planned.practitioner_id)
        else:
            new_starts[later.id] = (later.start_at, later.practitioner_id)
    problems += [replace(p, session_index=(p.session_index or 0) + offset) if p.session_index is not None else p
                 for p in plan.problems if p.session_index != 0]
    return problems


def cancel(
    actor: Actor,
    appointment_id: int,
    *,
    reason: str | None = None,
    rest_of_series: bool = False,
    override_reason: str | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Cancel one appointment, or it and every later active session of its series."""
    begin_write(db.session)
    now = now or utcnow()
    require_writer(actor)
    appointment = load_appointment_for(actor, appointment_id, for_update=True)
    allowed = ("booked",) if actor.is_patient else ("booked", "checked_in")
    if appointment.status not in allowed:
        raise InvalidState(f"This appointment is {appointment.status} and cannot be cancelled.")
    targets = [appointment]
    if rest_of_series:
        _, after = _series_neighbours(appointment)
        targets += [a for a in after if a.status == "booked"]
    problems = _cutoff_problems(appointment, now)
    overridden = decide(actor, problems, override_reason)
    settings = get_settings()
    for target in targets:
        snapshot = audit.snapshot(target)
        target.status = "cancelled"
        target.cancel_reason = (reason or "").strip() or None
        target.ical_sequence += 1
        target.updated_by_id = actor.user_id
        target.updated_at = utcnow()
        audit.record_appointment("appointment.cancelled", target, actor_id=actor.user_id, before=snapshot,
                                 reason=override_reason if overridden else reason, overridden=overridden)
        notifications.queue_cancel(target, settings)
    if appointment.series is not None:
        update_series_status(appointment.series)
    db.session.commit()
    return appointment


def update_series_status(series: Series) -> None:
    """A series with no session left to attend is cancelled (or completed if any was given)."""
    statuses = {a.status for a in series.appointments}
    if statuses & {"booked", "checked_in"}:
        return
    series.status = "completed" if "completed" in statuses else "cancelled"
