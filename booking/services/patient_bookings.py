"""A patient's own bookings as their pages show them: upcoming and past appointments, the
progress of each series, which appointments they may still change online, and booking a
cancelled session of a series again inside its window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.database import begin_write, retry_deadlocks
from booking.extensions import db
from booking.models import BLOCKING_STATUSES, HELD, Appointment, Series
from booking.models.base import utcnow
from booking.scheduling import ProposedSession, Slot, check_cancellation_cutoff
from booking.services import audit, changes, choices, schedules
from booking.services.actor import Actor
from booking.services.booking import Booking, check_practitioner_exists, require_aware, write_sessions
from booking.services.changes import InvalidState
from booking.services.clinic import get_settings
from booking.services.course import course_problems
from booking.services.loading import load_appointment_for, load_treatment, require_writer


@dataclass(frozen=True)
class SeriesProgress:
    """Where a series stands, one count per session of the course (a session cancelled and booked
    again counts once, as booked): ``done`` completed, ``booked`` still to come (booked or checked
    in), ``missed`` no-shows, ``cancelled`` the cancelled sessions not booked again (soonest first)."""

    series: Series
    total: int
    done: int
    booked: int
    missed: int
    cancelled: list[Appointment]


@dataclass(frozen=True)
class Overview:
    """``upcoming`` soonest first, ``past`` latest first, ``progress`` newest series first,
    ``changeable`` by appointment id."""

    upcoming: list[Appointment]
    past: list[Appointment]
    progress: list[SeriesProgress]
    changeable: dict[int, bool]


def changeable_online(appointment: Appointment, now: datetime | None = None) -> bool:
    """True while the cancellation cut-off still lets the patient move or cancel it themselves
    (the same rule the change itself is checked against)."""
    policy = schedules.clinic_policy(get_settings())
    return not check_cancellation_cutoff(appointment.start_at, now or utcnow(), policy)


def overview(patient_id: int, now: datetime | None = None) -> Overview:
    """The patient's appointments and series."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(Appointment).where(Appointment.patient_id == patient_id, Appointment.status != HELD)
        .options(selectinload(Appointment.treatment), selectinload(Appointment.practitioner),
                 selectinload(Appointment.series))
        .order_by(Appointment.start_at)
    ).all()
    upcoming = [a for a in rows if a.end_at >= now and a.status in ("booked", "checked_in")]
    past = [a for a in rows if a not in upcoming]
    series_rows = db.session.scalars(
        select(Series).where(Series.patient_id == patient_id).options(selectinload(Series.appointments))
        .order_by(Series.created_at.desc())
    ).all()
    progress = [series_progress(series) for series in series_rows]
    return Overview(upcoming=upcoming, past=list(reversed(past)), progress=progress,
                    changeable={a.id: changeable_online(a, now) for a in upcoming})


_RANK = {"completed": 4, "checked_in": 3, "booked": 3, "no_show": 2, "cancelled": 1}


def series_progress(series: Series) -> SeriesProgress:
    """Each session of the series by what became of it (its best appointment at that position)."""
    by_index: dict[int, Appointment] = {}
    for appointment in series.appointments:
        index = appointment.series_index or 0
        best = by_index.get(index)
        if best is None or _RANK[appointment.status] > _RANK[best.status] or (
                appointment.status == best.status and appointment.id > best.id):
            by_index[index] = appointment
    statuses = [a.status for a in by_index.values()]
    protocol = series.treatment.protocol
    return SeriesProgress(
        series=series, total=max(protocol.sessions if protocol else 0, len(by_index)),
        done=statuses.count("completed"), booked=statuses.count("booked") + statuses.count("checked_in"),
        missed=statuses.count("no_show"),
        cancelled=sorted((a for a in by_index.values() if a.status == "cancelled"), key=lambda a: a.series_index or 0),
    )


def rebookable(actor: Actor, appointment_id: int) -> Appointment:
    """The patient's cancelled or missed session of a series that has not been booked again; else an error."""
    appointment = load_appointment_for(actor, appointment_id)  # another's is a 404
    if appointment.status not in ("cancelled", "no_show") or appointment.series is None:
        raise InvalidState(gettext("Only a cancelled or missed session of a series can be booked again."))
    if any(a.series_index == appointment.series_index and a.status in BLOCKING_STATUSES
           for a in appointment.series.appointments):
        raise InvalidState(gettext("Session %(number)d is booked again already.",
                                   number=(appointment.series_index or 0) + 1))
    return appointment


def rebook_options(actor: Actor, appointment_id: int, now: datetime | None = None, *,
                   replan_following: bool = False) -> list[Slot]:
    """Free times inside the cancelled session's window (between its series neighbours, by the
    rules), its old time included if it is still free. With ``replan_following`` (the window has
    passed) the later sessions are planned again from the chosen time, so they do not bound it."""
    rebookable(actor, appointment_id)
    return choices.reschedule_options(actor, appointment_id, now=now, include_current=True,
                                      replan_following=replan_following)


@retry_deadlocks
def rebook(actor: Actor, appointment_id: int, *, start: datetime, practitioner_id: int,
           now: datetime | None = None, replan_following: bool = False) -> Appointment:
    """Book a cancelled or missed session of a series again: a new appointment at the same
    position of the series, through the booking pipeline (every rule, with the series
    neighbours' spacing), with its own invite. The old appointment stays as it was.

    With ``replan_following`` (its window has passed) the later booked sessions are planned
    again from the new time by the series planner and moved in the same transaction (same
    UIDs, higher SEQUENCE), so the series keeps its spacing."""
    require_aware(start, "start")
    begin_write(db.session)
    now = now or utcnow()
    require_writer(actor)
    cancelled = rebookable(actor, appointment_id)
    series = cancelled.series
    index = cancelled.series_index or 0
    check_practitioner_exists(practitioner_id)
    treatment = load_treatment(cancelled.treatment.slug)
    active = [a for a in series.appointments if a.status in BLOCKING_STATUSES]
    following = [a for a in active if (a.series_index or 0) > index and a.status == "booked"] if replan_following else []
    new_starts: dict[int, tuple[datetime, int]] = {}
    later_problems = (changes.replan_after(treatment, cancelled, following, start, practitioner_id, now, new_starts)
                      if following else [])
    written, _ = write_sessions(Booking(
        actor, treatment, cancelled.patient, [ProposedSession(start, practitioner_id, None, index)], None, now,
        neighbours_before=max((a.start_at for a in active if (a.series_index or 0) < index), default=None),
        neighbours_after=None if replan_following else min(
            (a.start_at for a in active if (a.series_index or 0) > index), default=None),
        prep_acknowledged=cancelled.prep_acknowledged_at is not None,
        problems=course_problems(series, adding=1, starts=[start], index=index),
    ))
    appointment = written[0]
    appointment.series, appointment.series_index = series, index
    series.status = "active"
    db.session.flush()
    if following:
        write_sessions(Booking(
            actor, treatment, cancelled.patient,
            [ProposedSession(*new_starts[a.id], None, a.series_index) for a in following], None, now,
            moving=following, neighbours_before=start, problems=later_problems,
        ))
    audit.record("series.session_rebooked", actor_id=actor.user_id, entity_type="series", entity_id=series.id,
                 after={"session": index + 1, "appointment_id": appointment.id, "replaces": cancelled.id,
                        "replanned": [a.id for a in following]},
                 patient_id=cancelled.patient_id, appointment_id=appointment.id)
    db.session.commit()
    return appointment
