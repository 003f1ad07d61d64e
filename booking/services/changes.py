"""Changing bookings: reschedule one appointment (optionally re-planning the rest of its
series) and cancel one appointment or the rest of a series."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from flask_babel import gettext, pgettext
from booking.database import begin_write, retry_deadlocks
from booking.extensions import db
from booking.mail import notifications
from booking.models import Appointment, BLOCKING_STATUSES, Series
from booking.models.base import utcnow
from booking.scheduling import Problem, ProposedSession, check_cancellation_cutoff
from booking.services import audit, consultations, schedules
from booking.services.actor import Actor
from booking.services.booking import Booking, check_practitioner_exists, plan_for, require_aware, write_sessions
from booking.services.clinic import get_settings
from booking.services.course import course_problems
from booking.services.errors import ServiceError
from booking.services.loading import load_appointment_for, load_treatment, require_writer
from booking.services.rules import decide


# Called right after a change that freed time has committed, with (start, end, practitioner_id,
# now) for each freed time: the waitlist offers it (services.waitlist registers itself here).
AFTER_FREED: list = []


def _freed(times: list[tuple[datetime, datetime, int]], now: datetime) -> None:
    for start, end, practitioner_id in times:
        for hook in AFTER_FREED:
            hook(start, end, practitioner_id, now)


class InvalidState(ServiceError):
    """The appointment's status does not allow this change (409)."""

    status = 409
    code = "invalid_state"


def status_word(status: str) -> str:
    """An appointment status in the current language ("checked_in" -> "checked in")."""
    words = {"booked": pgettext("appointment", "booked"), "checked_in": pgettext("appointment", "checked in"),
             "completed": pgettext("appointment", "completed"), "cancelled": pgettext("appointment", "cancelled"),
             "no_show": pgettext("appointment", "no show"), "held": pgettext("appointment", "held")}
    return words.get(status, status.replace("_", " "))


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
    """Move one appointment; re-checks its series neighbours, or re-plans the following sessions.

    Moving is booking again in the new place, through the same pipeline as booking.
    """
    require_aware(start, "start")
    begin_write(db.session)
    now = now or utcnow()
    require_writer(actor)
    appointment = load_appointment_for(actor, appointment_id, for_update=True)
    old = [(appointment.start_at, appointment.end_at, appointment.practitioner_id)]
    move(actor, appointment, start=start, practitioner_id=practitioner_id, override_reason=override_reason,
         replan_following=replan_following, now=now)
    db.session.commit()
    _freed(old, now)
    return appointment


def move(actor: Actor, appointment: Appointment, *, start: datetime, practitioner_id: int | None,
         override_reason: str | None, now: datetime, replan_following: bool = False,
         check_cutoff: bool = True) -> None:
    """``reschedule``'s move in the caller's transaction. An accepted offer moves this way too,
    without the patients' change cut-off (``check_cutoff``): the clinic offered the new time."""
    if appointment.status != "booked":
        raise InvalidState(gettext("Only a booked appointment can be moved; this one is %(state)s.",
                                   state=status_word(appointment.status)))
    practitioner_id = practitioner_id or appointment.practitioner_id
    check_practitioner_exists(practitioner_id)
    treatment = load_treatment(appointment.treatment.slug)
    before_sessions, after_sessions = _series_neighbours(appointment)
    moving = [appointment] + (after_sessions if replan_following else [])
    problems = ((_cutoff_problems(appointment, now) if check_cutoff else [])
                + consultations.dependents_problems(appointment, start)
                + course_problems(appointment.series, adding=0, starts=[start], index=appointment.series_index))
    new_starts = {appointment.id: (start, practitioner_id)}
    if replan_following and after_sessions:
        problems += _replan(treatment, appointment, after_sessions, start, practitioner_id, moving, now, new_starts)
    write_sessions(Booking(
        actor, treatment, appointment.patient,
        [ProposedSession(*new_starts[a.id], None, a.series_index) for a in moving],
        override_reason, now, moving=moving, problems=problems,
        neighbours_before=max((a.start_at for a in before_sessions), default=None),
        neighbours_after=None if replan_following else min((a.start_at for a in after_sessions), default=None),
    ))


def replan_after(treatment, appointment, following, start, practitioner_id, now, new_starts) -> list[Problem]:
    """``_replan`` for a session booked again at ``start`` (``following`` are moved)."""
    return _replan(treatment, appointment, following, start, practitioner_id, following, now, new_starts)


def _replan(treatment, appointment, following, start, practitioner_id, moving, now, new_starts) -> list[Problem]:
    """Plan the following sessions again from the moved one; fill ``new_starts``.

    They prefer the practitioner they already have: a session moved to another practitioner
    does not take the rest of the series with it.
    """
    series = appointment.series
    plan = plan_for(
        treatment.id, start, practitioner_id=practitioner_id, patient_id=appointment.patient_id,
        avoid_dates=series.avoid_days() if series else (), sessions=len(following) + 1,
        ignore_ids=frozenset(a.id for a in moving), now=now, later_practitioner_id=following[0].practitioner_id,
    )
    offset = appointment.series_index or 0
    for planned, later in zip(plan.sessions[1:], following):
        if planned.placed and planned.practitioner_id is not None:
            new_starts[later.id] = (planned.start, planned.practitioner_id)
        else:
            new_starts[later.id] = (later.start_at, later.practitioner_id)
    # The moved session itself (the plan's first) is checked by the booking pipeline.
    return [replace(p, session_index=p.session_index + offset) for p in plan.problems
            if p.session_index not in (None, 0)]


def cancel(
    actor: Actor,
    appointment_id: int,
    *,
    reason: str | None = None,
    patient_message: str | None = None,
    rest_of_series: bool = False,
    override_reason: str | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Cancel one appointment, or it and every later active session of its series.

    ``reason`` is the internal note, kept on the appointment and in the audit log and never
    mailed; ``patient_message`` is the only text of ours the patient's cancellation mail carries.
    """
    begin_write(db.session)
    now = now or utcnow()
    require_writer(actor)
    appointment = load_appointment_for(actor, appointment_id, for_update=True)
    allowed = ("booked",) if actor.is_patient else ("booked", "checked_in")
    if appointment.status not in allowed:
        raise InvalidState(gettext("This appointment is %(state)s and cannot be cancelled.",
                                   state=status_word(appointment.status)))
    targets = [appointment]
    if rest_of_series:
        _, after = _series_neighbours(appointment)
        targets += [a for a in after if a.status == "booked"]
    problems = _cutoff_problems(appointment, now) + consultations.dependents_problems(appointment, None)
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
        notifications.queue_cancel(target, settings, patient_message=(patient_message or "").strip() or None)
    if appointment.series is not None:
        update_series_status(appointment.series)
    freed = [(t.start_at, t.end_at, t.practitioner_id) for t in targets]
    db.session.commit()
    _freed(freed, now)
    return appointment


def update_series_status(series: Series) -> None:
    """A series with no session left to attend is cancelled (or completed if any was given)."""
    statuses = {a.status for a in series.appointments}
    if statuses & {"booked", "checked_in"}:
        return
    series.status = "completed" if "completed" in statuses else "cancelled"
