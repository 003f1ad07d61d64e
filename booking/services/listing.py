"""Listing appointments for the API: a patient's own, or the clinic's for staff."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.models import HELD, Appointment
from booking.models.base import utcnow
from booking.scheduling import local_day_bounds
from booking.services.actor import Actor
from booking.services.clinic import get_settings

# Staff asking with no dates get the coming weeks, not the whole history of the clinic.
STAFF_DEFAULT_DAYS = 28


def appointments_for(
    actor: Actor, *, first_day: date | None, last_day: date | None, now: datetime | None = None
) -> list[Appointment]:
    """The caller's own appointments (patients) or everyone's (staff), between two local dates
    (inclusive, either open); staff with neither date get yesterday to four weeks ahead."""
    tz = get_settings().timezone
    query = (select(Appointment).where(Appointment.status != HELD)  # holds are listed at /holds, not here
             .options(selectinload(Appointment.treatment)).order_by(Appointment.start_at))
    if actor.is_patient:
        query = query.where(Appointment.patient_id == actor.user_id)
    if first_day is not None:
        query = query.where(Appointment.start_at >= local_day_bounds(first_day, tz).start)
    if last_day is not None:
        query = query.where(Appointment.start_at < local_day_bounds(last_day, tz).end)
    if first_day is None and last_day is None and not actor.is_patient:
        now = now or utcnow()
        query = query.where(Appointment.start_at >= now - timedelta(days=1),
                            Appointment.start_at < now + timedelta(days=STAFF_DEFAULT_DAYS))
    return list(db.session.scalars(query))
