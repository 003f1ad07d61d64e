"""A patient's own bookings as their pages show them: upcoming and past appointments, the
progress of each series, and which appointments they may still change online."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.models import Appointment, Series
from booking.models.base import utcnow
from booking.scheduling import check_cancellation_cutoff
from booking.services import schedules
from booking.services.clinic import get_settings


@dataclass(frozen=True)
class Overview:
    """``upcoming`` soonest first, ``past`` latest first, ``progress`` as (series, sessions
    completed, sessions in the course) newest series first, ``changeable`` by appointment id."""

    upcoming: list[Appointment]
    past: list[Appointment]
    progress: list[tuple[Series, int, int]]
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
        select(Appointment).where(Appointment.patient_id == patient_id)
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
    progress = []
    for series in series_rows:
        total = series.treatment.protocol.sessions if series.treatment.protocol else len(series.appointments)
        done = sum(1 for a in series.appointments if a.status == "completed")
        progress.append((series, done, total))
    return Overview(upcoming=upcoming, past=list(reversed(past)), progress=progress,
                    changeable={a.id: changeable_online(a, now) for a in upcoming})
