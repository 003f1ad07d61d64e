"""Plain factories for the scheduling rules' values, with defaults a test can override.

No fixtures and no database: ``make_treatment(duration_minutes=30)`` is all a test needs.
Everything happens in Europe/Rome, whose 2026 transitions are Sun 29 Mar and Sun 25 Oct.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, settings

from booking.scheduling import (
    BookedAppointment,
    ClinicPolicy,
    LocalPeriod,
    PractitionerSchedule,
    PrepStep,
    Protocol,
    RoomSchedule,
    TreatmentSpec,
    local_to_utc,
)
from booking.scheduling.conflict_checks import as_booked

TZ = "Europe/Rome"
TREATMENT_ID = 10
CONSULTATION_ID = 20
PATIENT_ID = 100
SPRING_FORWARD = date(2026, 3, 29)
FALL_BACK = date(2026, 10, 25)

# Modest and free of the example database, so the unit suite stays quick and writes nothing.
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_ids = itertools.count(1000)


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """The UTC moment of a wall-clock time at the clinic."""
    return local_to_utc(date(year, month, day), time(hour, minute), TZ)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


NOW = local(2026, 3, 2, 8)  # Monday 2 March 2026, 08:00 in Rome


def week(
    start: time = time(9), end: time = time(18), days: range | tuple[int, ...] = range(7)
) -> tuple[LocalPeriod, ...]:
    """The same wall-clock period on each of ``days`` (0 = Monday); every day by default."""
    return tuple(LocalPeriod(d, start, end) for d in days)


def make_policy(**overrides: Any) -> ClinicPolicy:
    """Clinic settings: Rome, 15-minute grid, 24 h notice, 180-day horizon."""
    values: dict[str, Any] = dict(
        timezone=TZ,
        slot_step_minutes=15,
        min_notice_hours=24,
        horizon_days=180,
        cancel_cutoff_hours=24,
        closures=(),
    )
    values.update(overrides)
    return ClinicPolicy(**values)


def make_protocol(**overrides: Any) -> Protocol:
    """A single-session protocol unless told otherwise."""
    return Protocol(**overrides)


def make_series_protocol(**overrides: Any) -> Protocol:
    """Four sessions, 5..10 days apart aiming at 7."""
    values: dict[str, Any] = dict(
        sessions=4, interval_min_days=5, interval_target_days=7, interval_max_days=10
    )
    values.update(overrides)
    return Protocol(**values)


def make_treatment(**overrides: Any) -> TreatmentSpec:
    """A 60-minute face treatment in a room, no buffers, single session."""
    values: dict[str, Any] = dict(
        treatment_id=TREATMENT_ID,
        kind="treatment",
        body_area="face",
        duration_minutes=60,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        needs_room=True,
        protocol=Protocol(),
    )
    values.update(overrides)
    return TreatmentSpec(**values)


def make_practitioner(**overrides: Any) -> PractitionerSchedule:
    """Practitioner 1, giving the treatment, 09:00-18:00 every day with no breaks."""
    values: dict[str, Any] = dict(
        practitioner_id=1,
        treatment_ids=frozenset({TREATMENT_ID, CONSULTATION_ID}),
        hours=week(),
        breaks=(),
        exceptions=(),
        time_off=(),
    )
    values.update(overrides)
    return PractitionerSchedule(**values)


def make_room(**overrides: Any) -> RoomSchedule:
    """Room 1, serving the treatment, never closed."""
    values: dict[str, Any] = dict(room_id=1, treatment_ids=frozenset({TREATMENT_ID}), closures=())
    values.update(overrides)
    return RoomSchedule(**values)


def make_booked(**overrides: Any) -> BookedAppointment:
    """Someone else's 60-minute face appointment with practitioner 1 in room 1."""
    start = overrides.pop("start", local(2026, 3, 10, 10))
    values: dict[str, Any] = dict(
        appointment_id=next(_ids),
        patient_id=999,
        practitioner_id=1,
        room_id=1,
        treatment_id=TREATMENT_ID,
        body_area="face",
        start=start,
        end=start + timedelta(minutes=60),
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        aftercare_hours=0,
        kind="treatment",
    )
    values.update(overrides)
    return BookedAppointment(**values)


def make_prep(**overrides: Any) -> PrepStep:
    """Stop aspirin a week before."""
    values: dict[str, Any] = dict(instruction="Stop aspirin and NSAIDs", lead_hours=168)
    values.update(overrides)
    return PrepStep(**values)


def make_booked_session(
    treatment: TreatmentSpec, start: datetime, **overrides: Any
) -> BookedAppointment:
    """``treatment`` booked at ``start`` for the patient, as a session already booked looks.

    Its length, buffers, body area and aftercare are the treatment's; practitioner 1, room 1
    unless overridden.
    """
    booked = as_booked(treatment, start, 1, 1, PATIENT_ID, appointment_id=next(_ids))
    return booked._replace(**overrides)
