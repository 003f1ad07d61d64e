"""Factory functions that make valid rows with defaults; pass only what a test cares about."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from typing import Any

from booking.extensions import db
from booking.models import (
    INTAKE_QUESTIONS,
    Appointment,
    Break,
    ClinicSettings,
    Intake,
    PrepRule,
    Practitioner,
    Protocol,
    Room,
    Treatment,
    User,
    WorkingHours,
)

_counter = itertools.count(1)


def make_settings(**overrides: Any) -> ClinicSettings:
    """The clinic settings row (Europe/Rome, 24 h notice and cut-off, 15 min step)."""
    settings = db.session.get(ClinicSettings, 1) or ClinicSettings(id=1)
    values = dict(name="Test Clinic", timezone="Europe/Rome", min_notice_hours=24,
                  cancel_cutoff_hours=24, horizon_days=180, slot_step_minutes=15, phone="+39 06 000")
    values.update(overrides)
    for key, value in values.items():
        setattr(settings, key, value)
    db.session.add(settings)
    db.session.flush()
    return settings


def make_user(**overrides: Any) -> User:
    """A user; patient by default, password "password123"."""
    n = next(_counter)
    password = overrides.pop("password", "password123")
    overrides.setdefault("email", f"user{n}@example.com")
    overrides.setdefault("name", f"User Number{n}")
    overrides.setdefault("role", "patient")
    user = User(**overrides)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def make_treatment(**overrides: Any) -> Treatment:
    """A 30-minute face treatment needing a room, with a 4-session protocol by default."""
    n = next(_counter)
    protocol = overrides.pop("protocol", None)
    prep = overrides.pop("prep", [("Stop aspirin and NSAIDs", 7 * 24)])
    overrides.setdefault("slug", f"treatment-{n}")
    overrides.setdefault("name", f"Treatment {n}")
    overrides.setdefault("kind", "treatment")
    overrides.setdefault("body_area", "face")
    overrides.setdefault("duration_minutes", 30)
    treatment = Treatment(**overrides)
    if protocol is None:
        protocol = dict(sessions=4, interval_min_days=10, interval_target_days=14,
                        interval_max_days=21, aftercare_hours=72)
    if protocol is not False:
        treatment.protocol = Protocol(
            **protocol, prep_rules=[PrepRule(instruction=i, lead_hours=h) for i, h in prep]
        )
    db.session.add(treatment)
    db.session.flush()
    return treatment


def make_intake(patient: User, **answers: bool) -> Intake:
    """The patient's health questionnaire: "no" to every question unless ``answers`` says yes."""
    intake = Intake(patient_id=patient.id, answers={key: answers.get(key, False) for key in INTAKE_QUESTIONS})
    db.session.add(intake)
    db.session.flush()
    return intake


def make_room(**overrides: Any) -> Room:
    """A room serving the given treatments."""
    overrides.setdefault("name", f"Room {next(_counter)}")
    overrides.setdefault("treatments", [])
    room = Room(**overrides)
    db.session.add(room)
    db.session.flush()
    return room


def make_practitioner(**overrides: Any) -> Practitioner:
    """A practitioner working Mon-Fri 09:00-17:00 with lunch 13:00-14:00."""
    user = overrides.pop("user", None) or make_user(role="practitioner")
    hours = overrides.pop("hours", {d: (time(9), time(17)) for d in range(5)})
    breaks = overrides.pop("breaks", {d: (time(13), time(14)) for d in range(5)})
    overrides.setdefault("treatments", [])
    practitioner = Practitioner(user=user, **overrides)
    practitioner.hours = [WorkingHours(weekday=d, start_time=s, end_time=e) for d, (s, e) in hours.items()]
    practitioner.breaks = [Break(weekday=d, start_time=s, end_time=e) for d, (s, e) in breaks.items()]
    db.session.add(practitioner)
    db.session.flush()
    return practitioner


def make_appointment(**overrides: Any) -> Appointment:
    """A booked appointment; makes the patient, practitioner and treatment it needs."""
    treatment = overrides.pop("treatment", None) or make_treatment()
    practitioner = overrides.pop("practitioner", None) or make_practitioner(treatments=[treatment])
    patient = overrides.pop("patient", None) or make_user()
    start = overrides.pop("start", datetime(2030, 3, 4, 9, 0, tzinfo=UTC))
    appointment = Appointment(
        treatment_id=treatment.id, practitioner_id=practitioner.id, patient_id=patient.id, **overrides
    )
    appointment.place(start, treatment.duration_minutes, treatment.buffer_before_minutes,
                      treatment.buffer_after_minutes)
    db.session.add(appointment)
    db.session.flush()
    return appointment


def in_days(days: int, hour: int = 10) -> datetime:
    """A UTC datetime ``days`` from now at ``hour``:00 UTC."""
    base = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return base + timedelta(days=days)
