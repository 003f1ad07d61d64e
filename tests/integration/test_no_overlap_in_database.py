"""The database itself refuses overlapping active appointments (PostgreSQL exclusion
constraints, SQLite triggers), so no code path can double-book."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from booking.extensions import db
from tests.integration.factories import make_appointment, make_room, make_treatment, make_user


def test_overlapping_active_appointments_for_one_practitioner_fail(app):
    first = make_appointment()
    with pytest.raises(IntegrityError, match="ex_appointment_practitioner_overlap"):
        make_appointment(
            treatment=first.treatment, practitioner=first.practitioner,
            start=first.start_at + timedelta(minutes=15),
        )
    db.session.rollback()


def test_a_cancelled_appointment_does_not_block(app):
    first = make_appointment(status="cancelled")
    second = make_appointment(
        treatment=first.treatment, practitioner=first.practitioner, start=first.start_at
    )
    db.session.commit()
    assert second.id != first.id


def test_back_to_back_appointments_are_allowed(app):
    first = make_appointment()
    second = make_appointment(
        treatment=first.treatment, practitioner=first.practitioner, start=first.end_at
    )
    db.session.commit()
    assert second.start_at == first.end_at


def test_buffers_are_part_of_the_held_time(app):
    treatment = make_treatment(buffer_after_minutes=15)
    first = make_appointment(treatment=treatment)
    with pytest.raises(IntegrityError, match="ex_appointment_practitioner_overlap"):
        # Starts when the first ends, but inside its 15-minute turnover.
        make_appointment(treatment=treatment, practitioner=first.practitioner, start=first.end_at)
    db.session.rollback()


def test_one_room_cannot_hold_two_appointments(app):
    treatment = make_treatment()
    room = make_room(treatments=[treatment])
    first = make_appointment(treatment=treatment, room_id=room.id)
    with pytest.raises(IntegrityError, match="ex_appointment_room_overlap"):
        make_appointment(treatment=treatment, room_id=room.id, start=first.start_at)
    db.session.rollback()


def test_a_patient_cannot_be_in_two_places(app):
    patient = make_user()
    first = make_appointment(patient=patient)
    with pytest.raises(IntegrityError, match="ex_appointment_patient_overlap"):
        make_appointment(patient=patient, start=first.start_at + timedelta(minutes=10))
    db.session.rollback()


def test_moving_onto_a_busy_time_fails_and_reactivating_a_cancelled_one_too(app):
    first = make_appointment()
    other = make_appointment(
        treatment=first.treatment, practitioner=first.practitioner, start=first.end_at + timedelta(hours=1)
    )
    db.session.commit()
    other.place(first.start_at, 30, 0, 0)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()

    cancelled = make_appointment(
        treatment=first.treatment, practitioner=first.practitioner, start=first.start_at, status="cancelled"
    )
    db.session.commit()
    cancelled.status = "booked"
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
