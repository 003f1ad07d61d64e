"""Loading what the scheduling rules need from the database, as plain values.

Only the appointments that can matter for the asked window are loaded (an index range on
``busy_start``/``busy_end``), so the cost follows the window, not the size of the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import DateTime, and_, func, or_, select, type_coerce
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.models import (
    BLOCKING_STATUSES,
    HELD,
    Appointment,
    ClinicClosure,
    ClinicSettings,
    Practitioner,
    Protocol,
    Room,
    Treatment,
)
from booking.models.base import utcnow
from booking.scheduling import model as sm
from booking.scheduling.rulebook import Reach


def clinic_policy(settings: ClinicSettings, closures: Iterable[ClinicClosure] = ()) -> sm.ClinicPolicy:
    """The clinic settings as the rules see them."""
    return sm.ClinicPolicy(
        timezone=settings.timezone,
        slot_step_minutes=settings.slot_step_minutes,
        min_notice_hours=settings.min_notice_hours,
        horizon_days=settings.horizon_days,
        cancel_cutoff_hours=settings.cancel_cutoff_hours,
        closures=tuple(sm.Interval(c.start_at, c.end_at) for c in closures),
    )


def load_policy(settings: ClinicSettings, start: datetime, end: datetime) -> sm.ClinicPolicy:
    """The clinic policy with the closures that touch ``[start, end)``."""
    closures = db.session.scalars(
        select(ClinicClosure).where(ClinicClosure.end_at > start, ClinicClosure.start_at < end)
    ).all()
    return clinic_policy(settings, closures)


def treatment_spec(treatment: Treatment) -> sm.TreatmentSpec:
    """A treatment and its protocol as the rules see them."""
    protocol = treatment.protocol
    return sm.TreatmentSpec(
        treatment_id=treatment.id,
        kind=treatment.kind,
        body_area=treatment.body_area,
        duration_minutes=treatment.duration_minutes,
        buffer_before_minutes=treatment.buffer_before_minutes,
        buffer_after_minutes=treatment.buffer_after_minutes,
        needs_room=treatment.needs_room,
        protocol=protocol_spec(protocol) if protocol is not None else sm.Protocol(),
    )


def protocol_spec(protocol: Protocol) -> sm.Protocol:
    """A protocol as the rules see it."""
    return sm.Protocol(
        sessions=protocol.sessions,
        interval_min_days=protocol.interval_min_days,
        interval_target_days=protocol.interval_target_days,
        interval_max_days=protocol.interval_max_days,
        consultation_treatment_id=protocol.consultation_treatment_id,
        consultation_min_days_before=protocol.consultation_min_days_before,
        consultation_valid_days=protocol.consultation_valid_days,
        aftercare_hours=protocol.aftercare_hours,
        # The default text and its translations, never the text in the current language: the
        # rules are cached across requests in every language.
        prep=tuple(
            sm.PrepStep(rule.instruction_default, rule.lead_hours, rule.remind,
                        tuple(sorted((lang, texts["instruction"]) for lang, texts in (rule.translations or {}).items()
                                     if texts.get("instruction"))))
            for rule in protocol.prep_rules
        ),
    )


def practitioner_schedule(
    practitioner: Practitioner, start: datetime | None = None, end: datetime | None = None
) -> sm.PractitionerSchedule:
    """A practitioner's hours, breaks, exceptions and time off (within the window, if given)."""
    exceptions: dict[date, list[tuple]] = {}
    for row in practitioner.exceptions:
        periods = exceptions.setdefault(row.day, [])
        if row.start_time is not None and row.end_time is not None:
            periods.append((row.start_time, row.end_time))
    time_off = [
        sm.Interval(t.start_at, t.end_at)
        for t in practitioner.time_off
        if start is None or end is None or (t.end_at > start and t.start_at < end)
    ]
    return sm.PractitionerSchedule(
        practitioner_id=practitioner.id,
        treatment_ids=frozenset(t.id for t in practitioner.treatments),
        hours=tuple(sm.LocalPeriod(h.weekday, h.start_time, h.end_time) for h in practitioner.hours),
        breaks=tuple(sm.LocalPeriod(b.weekday, b.start_time, b.end_time) for b in practitioner.breaks),
        exceptions=tuple(
            sm.DateException(day, tuple(sorted(periods))) for day, periods in sorted(exceptions.items())
        ),
        time_off=tuple(time_off),
    )


def room_schedule(room: Room) -> sm.RoomSchedule:
    """A room, what it serves, and its closures."""
    return sm.RoomSchedule(
        room_id=room.id,
        treatment_ids=frozenset(t.id for t in room.treatments),
        closures=tuple(sm.Interval(c.start_at, c.end_at) for c in room.closures),
    )


def load_practitioners(
    practitioner_ids: Iterable[int] | None = None, *, treatment_id: int | None = None
) -> list[Practitioner]:
    """Active practitioners (those named, those who give the treatment) with everything their
    schedule needs, in one round of queries."""
    query = (
        select(Practitioner)
        .where(Practitioner.active.is_(True))
        .options(
            selectinload(Practitioner.user),
            selectinload(Practitioner.treatments),
            selectinload(Practitioner.hours),
            selectinload(Practitioner.breaks),
            selectinload(Practitioner.exceptions),
            selectinload(Practitioner.time_off),
        )
        .order_by(Practitioner.id)
    )
    if practitioner_ids is not None:
        query = query.where(Practitioner.id.in_(list(practitioner_ids)))
    if treatment_id is not None:
        query = query.where(Practitioner.treatments.any(Treatment.id == treatment_id))
    return list(db.session.scalars(query))


def load_rooms(*, treatment_id: int | None = None) -> list[Room]:
    """Active rooms (those serving the treatment, if given) with their treatments and closures."""
    query = (
        select(Room)
        .where(Room.active.is_(True))
        .options(selectinload(Room.treatments), selectinload(Room.closures))
        .order_by(Room.id)
    )
    if treatment_id is not None:
        query = query.where(Room.treatments.any(Treatment.id == treatment_id))
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class Involved:
    """The resources a booking can clash with: its practitioners, rooms and patient."""

    practitioner_ids: frozenset[int]
    room_ids: frozenset[int]
    patient_id: int

    def clause(self):
        """The WHERE clause keeping only appointments of these resources."""
        return or_(
            Appointment.practitioner_id.in_(sorted(self.practitioner_ids)),
            Appointment.room_id.in_(sorted(self.room_ids)),
            Appointment.patient_id == self.patient_id,
        )


def booked_between(
    start: datetime, end: datetime, *, reach: Reach | None = None, patient_id: int | None = None,
    treatments: Mapping[int, sm.TreatmentSpec] | None = None, involved: Involved | None = None,
) -> list[sm.BookedAppointment]:
    """Active appointments the rules can see for new appointments starting in ``[start, end]``.

    How far around the window to read is the rules' answer (``scheduling.rulebook.reach``):
    other people's appointments whose held span (buffers included) can meet the new one's,
    and the patient's own as far as any aftercare reaches. With no ``reach`` only what overlaps
    the window is read. Each appointment's treatment facts (area, kind, buffers, aftercare)
    come from ``treatments`` (the cached rules) when given, so the query reads one table;
    otherwise from a second query. ``involved`` keeps only the appointments of some resources.
    """
    reach = reach or Reach(timedelta(0), timedelta(0), timedelta(0), timedelta(0))
    where = and_(*_held_in(start - reach.resources_before, end + reach.resources_after))
    if involved is not None:
        where = and_(where, involved.clause())
    if patient_id is not None:
        own = _held_in(start - reach.patient_before, end + reach.patient_after)
        where = or_(where, and_(Appointment.patient_id == patient_id, *own))
    start_at, end_at = Appointment.start_at, Appointment.end_at
    if db.session.get_bind().dialect.name == "postgresql":
        # timestamptz comes back aware (sessions run in UTC): skip the per-value conversion.
        start_at, end_at = type_coerce(start_at, DateTime(timezone=True)), type_coerce(end_at, DateTime(timezone=True))
    columns = (Appointment.id, Appointment.patient_id, Appointment.practitioner_id, Appointment.room_id,
               Appointment.treatment_id, start_at, end_at)
    order = (Appointment.start_at, Appointment.id)
    # Through the connection: plain Core rows, without the ORM's result machinery.
    rows = db.session.connection().execute(
        select(*columns).where(busy_clause(), where).order_by(*order)
    ).all()
    # Per treatment: (body area, buffer before, buffer after, aftercare hours, kind).
    if treatments is not None:
        facts = {
            tid: (t.body_area, t.buffer_before_minutes, t.buffer_after_minutes, t.protocol.aftercare_hours, t.kind)
            for tid, t in treatments.items()
        }
    else:
        facts = {
            tid: (body_area, before, after, aftercare or 0, kind)
            for tid, body_area, before, after, aftercare, kind in db.session.execute(
                select(Treatment.id, Treatment.body_area, Treatment.buffer_before_minutes,
                       Treatment.buffer_after_minutes, Protocol.aftercare_hours, Treatment.kind)
                .outerjoin(Protocol, Protocol.treatment_id == Treatment.id))
        }
    if any(row[4] not in facts for row in rows):  # a treatment newer than the cached rules
        return booked_between(start, end, reach=reach, patient_id=patient_id, involved=involved)
    # Plain tuple unpacking and positional arguments: a window can hold thousands of rows, and
    # named attribute access on each row was most of this function's time.
    booked = []
    for appointment_id, patient_id_, practitioner_id, room_id, treatment_id, start_at, end_at in rows:
        body_area, before, after, aftercare, kind = facts[treatment_id]
        booked.append(sm.BookedAppointment(
            appointment_id, patient_id_, practitioner_id, room_id, treatment_id, body_area,
            start_at, end_at, before, after, aftercare, kind,
        ))
    return booked


def booked_version(start: datetime, end: datetime, *, reach: Reach) -> tuple:
    """A fingerprint of the active appointments ``booked_between`` would read for the window
    (with no patient: answers for a patient are never reused).

    One aggregate over the same index range: how many, which ids, where they sit (practitioner,
    room, patient, held start) and when they last changed. Booking, moving or cancelling any of
    them changes it; the sums of times make it independent of app servers' clocks agreeing.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        seconds = lambda column: func.date_part("epoch", column)  # noqa: E731  (a float: cheap to sum)
    else:  # SQLite keeps UTC text; julianday reads it
        seconds = func.julianday
    row = db.session.execute(
        select(
            func.count(), func.sum(Appointment.id), func.max(Appointment.updated_at),
            func.sum(Appointment.practitioner_id), func.sum(func.coalesce(Appointment.room_id, 0)),
            func.sum(Appointment.patient_id), func.sum(seconds(Appointment.busy_start)),
            func.sum(seconds(Appointment.updated_at)),
        ).where(busy_clause(), *_held_in(start - reach.resources_before, end + reach.resources_after))
    ).one()
    return tuple(str(value) for value in row)


def busy_clause(now: datetime | None = None):
    """WHERE: appointments that hold their time now: booked ones, and holds not yet expired
    (an expired hold counts for nothing, even before anything removes it)."""
    return or_(Appointment.status.in_(BLOCKING_STATUSES),
               and_(Appointment.status == HELD, Appointment.hold_expires_at > (now or utcnow())))


def _held_in(low: datetime, high: datetime) -> tuple:
    """WHERE: appointments whose held span touches ``[low, high)`` (an index range on
    ``ix_appointment_busy_window``)."""
    return (Appointment.busy_start < high, Appointment.busy_end > low)
