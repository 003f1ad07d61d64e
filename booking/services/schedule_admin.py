"""Administering when people and rooms are available: weekly hours and breaks, date exceptions,
time off, room and clinic closures; and finding the booked appointments a change strands.

Every change is one transaction with an audit event holding before/after. A change never moves
or cancels bookings by itself: it returns the appointments now outside the schedule so that a
person rebooks them (``stranded``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.database import begin_write
from booking.extensions import db
from booking.i18n import translate
from booking.models import (
    Appointment,
    Break,
    ClinicClosure,
    DateException,
    Practitioner,
    Room,
    RoomClosure,
    TimeOff,
    WorkingHours,
)
from booking.models.base import utcnow
from booking.scheduling.checks import check_hours, check_room_open
from booking.scheduling.model import WEEKDAYS
from booking.services import audit, schedules
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest, NotFound

Periods = Mapping[int, Sequence[tuple[time, time]]]
STRANDED_HORIZON = timedelta(days=400)


def require_admin(actor: Actor) -> None:
    """Schedules, the catalogue, settings and users are the administrator's."""
    if actor.role != "admin":
        raise Forbidden(gettext("Only an administrator can change this."))


@dataclass(frozen=True)
class Stranded:
    """A booked appointment the current schedule no longer allows, and why."""

    appointment: Appointment
    reason: str


def stranded(*, practitioner_id: int | None = None, room_id: int | None = None,
             now: datetime | None = None) -> list[Stranded]:
    """Future booked appointments outside their practitioner's time or in a closed room.

    Limited to one practitioner or one room when given, else the whole clinic.
    """
    now = now or utcnow()
    query = (
        select(Appointment)
        .where(Appointment.status == "booked", Appointment.start_at >= now,
               Appointment.start_at < now + STRANDED_HORIZON)
        .options(selectinload(Appointment.patient), selectinload(Appointment.treatment))
        .order_by(Appointment.start_at, Appointment.id)
    )
    if practitioner_id is not None:
        query = query.where(Appointment.practitioner_id == practitioner_id)
    if room_id is not None:
        query = query.where(Appointment.room_id == room_id)
    rows = list(db.session.scalars(query))
    if not rows:
        return []
    settings = get_settings()
    policy = schedules.load_policy(settings, rows[0].start_at, rows[-1].end_at + timedelta(days=1))
    people = {p.id: schedules.practitioner_schedule(p)
              for p in schedules.load_practitioners({r.practitioner_id for r in rows})}
    rooms = {r.id: schedules.room_schedule(r) for r in schedules.load_rooms()}
    found = []
    for row in rows:
        person = people.get(row.practitioner_id)
        if person is None:
            found.append(Stranded(row, gettext("The practitioner is no longer active.")))
            continue
        hours = [translate(p.message) for p in check_hours(row.start_at, row.end_at, person, policy)]
        room = []
        if row.room_id is not None and row.room_id not in rooms:
            room = [gettext("The room is no longer in use.")]
        elif row.room_id is not None:
            room = [translate(p.message) for p in check_room_open(row.start_at, row.end_at, rooms[row.room_id],
                                                                   tz=settings.timezone)]
        # On a room's page the room's reason comes first.
        reasons = room + hours if room_id is not None else hours + room
        if reasons:
            found.append(Stranded(row, reasons[0]))
    return found


def _practitioner(practitioner_id: int) -> Practitioner:
    """A practitioner, or NotFound."""
    practitioner = db.session.get(Practitioner, practitioner_id)
    if practitioner is None:
        raise NotFound(gettext("There is no practitioner %(id)s.", id=practitioner_id))
    return practitioner


def _week(rows: Sequence[WorkingHours | Break]) -> dict[str, list[str]]:
    """Weekly rows as {"mon": ["09:00-13:00", ...]} for the audit log."""
    week: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r.weekday, r.start_time)):
        week.setdefault(WEEKDAYS[row.weekday], []).append(f"{row.start_time:%H:%M}-{row.end_time:%H:%M}")
    return week


def set_weekly_hours(actor: Actor, practitioner_id: int, *, hours: Periods, breaks: Periods) -> list[Stranded]:
    """Replace a practitioner's weekly hours and breaks; returns the appointments now stranded."""
    require_admin(actor)
    begin_write(db.session)
    practitioner = _practitioner(practitioner_id)
    for periods in (*hours.values(), *breaks.values()):
        for start, end in periods:
            if end <= start:
                raise InvalidRequest(gettext("Each period must end after it starts (overnight periods are not supported)."))
    before = {"hours": _week(practitioner.hours), "breaks": _week(practitioner.breaks)}
    practitioner.hours = [WorkingHours(weekday=d, start_time=s, end_time=e)
                          for d, periods in sorted(hours.items()) for s, e in periods]
    practitioner.breaks = [Break(weekday=d, start_time=s, end_time=e)
                           for d, periods in sorted(breaks.items()) for s, e in periods]
    db.session.flush()
    after = {"hours": _week(practitioner.hours), "breaks": _week(practitioner.breaks)}
    audit.record("schedule.hours_changed", actor_id=actor.user_id, entity_type="practitioner",
                 entity_id=practitioner.id, before=before, after=after)
    db.session.commit()
    return stranded(practitioner_id=practitioner.id)


def add_exception(actor: Actor, practitioner_id: int, *, day: date, start: time | None, end: time | None,
                  note: str = "") -> list[Stranded]:
    """Special hours (or, with no times, a day off) on one date; returns what it strands."""
    require_admin(actor)
    if (start is None) != (end is None) or (start is not None and end <= start):
        raise InvalidRequest(gettext("Give both a start and a later end, or neither for a day off."))
    begin_write(db.session)
    practitioner = _practitioner(practitioner_id)
    row = DateException(practitioner_id=practitioner.id, day=day, start_time=start, end_time=end, note=note.strip())
    db.session.add(row)
    db.session.flush()
    audit.record("schedule.exception_added", actor_id=actor.user_id, entity_type="practitioner",
                 entity_id=practitioner.id, after={"exception_id": row.id, "day": day.isoformat(),
                                                   "start": f"{start:%H:%M}" if start else None,
                                                   "end": f"{end:%H:%M}" if end else None, "note": row.note})
    db.session.commit()
    return stranded(practitioner_id=practitioner.id)


def add_time_off(actor: Actor, practitioner_id: int, *, start: datetime, end: datetime,
                 reason: str = "") -> list[Stranded]:
    """Time away (UTC span); returns the appointments inside it."""
    require_admin(actor)
    if end <= start:
        raise InvalidRequest(gettext("Time off must end after it starts."))
    begin_write(db.session)
    practitioner = _practitioner(practitioner_id)
    row = TimeOff(practitioner_id=practitioner.id, start_at=start, end_at=end, reason=reason.strip())
    db.session.add(row)
    db.session.flush()
    audit.record("schedule.time_off_added", actor_id=actor.user_id, entity_type="practitioner",
                 entity_id=practitioner.id, after={"time_off_id": row.id, "start": start.isoformat(),
                                                   "end": end.isoformat(), "reason": row.reason})
    db.session.commit()
    return stranded(practitioner_id=practitioner.id)


def add_room_closure(actor: Actor, room_id: int, *, start: datetime, end: datetime,
                     reason: str = "") -> list[Stranded]:
    """Close a room for a span; returns the appointments booked in it then."""
    require_admin(actor)
    if end <= start:
        raise InvalidRequest(gettext("A closure must end after it starts."))
    begin_write(db.session)
    room = db.session.get(Room, room_id)
    if room is None:
        raise NotFound(gettext("There is no room %(id)s.", id=room_id))
    row = RoomClosure(room_id=room.id, start_at=start, end_at=end, reason=reason.strip())
    db.session.add(row)
    db.session.flush()
    audit.record("schedule.room_closed", actor_id=actor.user_id, entity_type="room", entity_id=room.id,
                 after={"closure_id": row.id, "start": start.isoformat(), "end": end.isoformat(),
                        "reason": row.reason})
    db.session.commit()
    return stranded(room_id=room.id)


def add_clinic_closure(actor: Actor, *, start: datetime, end: datetime, reason: str = "") -> list[Stranded]:
    """Close the whole clinic for a span (a holiday); returns every appointment inside it."""
    require_admin(actor)
    if end <= start:
        raise InvalidRequest(gettext("A closure must end after it starts."))
    begin_write(db.session)
    close_clinic(actor, start=start, end=end, reason=reason)
    db.session.commit()
    return stranded()


def close_clinic(actor: Actor, *, start: datetime, end: datetime, reason: str = "") -> ClinicClosure:
    """Write one clinic closure and its audit event in the caller's transaction (a typed-in
    closure, or a public holiday: ``services.holidays``)."""
    require_admin(actor)
    if end <= start:
        raise InvalidRequest(gettext("A closure must end after it starts."))
    row = ClinicClosure(start_at=start, end_at=end, reason=reason.strip())
    db.session.add(row)
    db.session.flush()
    audit.record("schedule.clinic_closed", actor_id=actor.user_id, entity_type="clinic_closure",
                 entity_id=row.id, after={"start": start.isoformat(), "end": end.isoformat(), "reason": row.reason})
    return row


# What each removable schedule row is, for remove_entry: model, audit entity, owner column.
_REMOVABLE = {
    "exception": (DateException, "practitioner", "practitioner_id"),
    "time_off": (TimeOff, "practitioner", "practitioner_id"),
    "room_closure": (RoomClosure, "room", "room_id"),
    "clinic_closure": (ClinicClosure, "clinic_closure", None),
}


def _describe(row) -> dict:
    """A schedule row's audited fields."""
    values = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if hasattr(value, "isoformat") else value
    return values


def remove_entry(actor: Actor, kind: str, entry_id: int) -> int | None:
    """Delete an exception, time off or closure (adding time back strands nothing); returns its owner id."""
    require_admin(actor)
    if kind not in _REMOVABLE:
        raise InvalidRequest(gettext("Unknown schedule entry %(kind)r.", kind=kind))
    model, entity_type, owner_column = _REMOVABLE[kind]
    begin_write(db.session)
    row = db.session.get(model, entry_id)
    if row is None:
        raise NotFound(gettext("That entry no longer exists."))
    owner = getattr(row, owner_column) if owner_column else None
    before = _describe(row)
    db.session.delete(row)
    db.session.flush()
    audit.record(f"schedule.{kind}_removed", actor_id=actor.user_id, entity_type=entity_type,
                 entity_id=owner if owner_column else entry_id, before=before)
    db.session.commit()
    return owner
