"""Consultation first, seen from the consultation: the booked treatments that depend on it.

The rule itself is ``rulebook.consultation_starts_allowed`` (a first session needs a
consultation at least N days before it and no older than its validity); moving or cancelling
a consultation asks the same rule whether every booked first session that relied on it still
has one, and which consultation times keep them all valid.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from booking.extensions import db
from booking.models import BLOCKING_STATUSES, Appointment, Protocol, Treatment
from booking.scheduling import Problem, check_consultation
from booking.scheduling.intervals import intersect_pairs
from booking.scheduling.problems import CONSULTATION_REQUIRED, day_label, days_label
from booking.scheduling.clock import local_date
from booking.scheduling.rulebook import EARLIEST, LATEST, Span, consultation_keeps
from booking.scheduling.text import N_
from booking.services import schedules
from booking.services.clinic import get_settings


def dependents(consultation: Appointment) -> list[Appointment]:
    """The patient's booked first sessions (or single sessions) of treatments that need a
    consultation of this kind, in time order."""
    return list(db.session.scalars(
        select(Appointment)
        .join(Treatment, Treatment.id == Appointment.treatment_id)
        .join(Protocol, Protocol.treatment_id == Treatment.id)
        .where(
            Appointment.patient_id == consultation.patient_id,
            Appointment.id != consultation.id,
            Appointment.status == "booked",
            Protocol.consultation_treatment_id == consultation.treatment_id,
            or_(Appointment.series_index.is_(None), Appointment.series_index == 0),
        )
        .order_by(Appointment.start_at)
    ))


def _other_consultations(consultation: Appointment) -> list[datetime]:
    """The patient's other active consultations of the same kind."""
    return list(db.session.scalars(
        select(Appointment.start_at).where(
            Appointment.patient_id == consultation.patient_id,
            Appointment.treatment_id == consultation.treatment_id,
            Appointment.id != consultation.id,
            Appointment.status.in_(BLOCKING_STATUSES),
        )
    ))


def dependents_problems(consultation: Appointment, new_start: datetime | None) -> list[Problem]:
    """``consultation_required`` for each booked session the consultation no longer covers
    when it moves to ``new_start`` (or is cancelled: None)."""
    if consultation.treatment.kind != "consultation":
        return []
    tz = get_settings().timezone
    kept = _other_consultations(consultation) + ([new_start] if new_start is not None else [])
    problems = []
    for session in dependents(consultation):
        spec = schedules.treatment_spec(session.treatment)
        if not check_consultation(spec, session.start_at, kept, tz):
            continue
        protocol = spec.protocol
        values = dict(treatment=session.treatment.name, day=day_label(local_date(session.start_at, tz)),
                      min=days_label(protocol.consultation_min_days_before), valid=protocol.consultation_valid_days)
        if new_start is not None:
            message = N_("Your %(treatment)s on %(day)s needs this consultation at least %(min)s before it "
                         "and no more than %(valid)d days before it; it cannot be moved there. Choose another "
                         "time, or move that session first.", **values)
        else:
            message = N_("Your %(treatment)s on %(day)s needs this consultation at least %(min)s before it "
                         "and no more than %(valid)d days before it; it cannot be cancelled. Choose another "
                         "time, or move that session first.", **values)
        problems.append(Problem(CONSULTATION_REQUIRED, message, None))
    return problems


def keeping_dependents(consultation: Appointment) -> list[Span] | None:
    """The consultation starts that keep every dependent session valid (start ticks), or None
    when nothing depends on this consultation alone."""
    if consultation.treatment.kind != "consultation":
        return None
    tz = get_settings().timezone
    others = _other_consultations(consultation)
    allowed: list[Span] | None = None
    for session in dependents(consultation):
        spec = schedules.treatment_spec(session.treatment)
        if not check_consultation(spec, session.start_at, others, tz):
            continue  # another consultation covers it whatever happens to this one
        keeps = [consultation_keeps(spec.protocol, session.start_at, tz)]
        allowed = keeps if allowed is None else intersect_pairs(allowed, keeps)
    if allowed is None:
        return None
    return [(max(low, EARLIEST), min(high, LATEST)) for low, high in allowed]
