"""Reminders are queued once each, at the right time, and never late."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import Appointment, OutboxMessage
from booking.models.base import utcnow
from booking.services.reminders import queue_due_reminders
from tests.integration.clinic import build_clinic


@pytest.fixture
def clinic(app):
    return build_clinic()


def face_appointment(clinic, start, created):
    appointment = Appointment(patient_id=clinic.patient.id, practitioner_id=clinic.anna.id, room_id=clinic.room.id,
                              treatment_id=clinic.face.id, status="booked", created_at=created)
    appointment.place(start, 30, 0, 10)
    db.session.add(appointment)
    db.session.commit()
    return appointment


def kinds():
    return sorted(db.session.scalars(select(OutboxMessage.kind)))


def test_each_reminder_is_queued_when_due_and_only_once(clinic):
    start = utcnow().replace(microsecond=0) + timedelta(days=10)
    face_appointment(clinic, start, created=start - timedelta(days=30))
    # 8 days before: nothing is due yet (aspirin is due at 7 days).
    assert queue_due_reminders(now=start - timedelta(days=8)).prep == 0
    # 7 days before: stop aspirin.
    report = queue_due_reminders(now=start - timedelta(days=7) + timedelta(minutes=1))
    assert (report.appointment, report.prep) == (0, 1)
    again = queue_due_reminders(now=start - timedelta(days=7) + timedelta(minutes=30))
    assert (again.appointment, again.prep) == (0, 0)
    # 47 hours before: the appointment reminder (48 h); 23 h before: no alcohol (24 h).
    assert queue_due_reminders(now=start - timedelta(hours=47)).appointment == 1
    assert queue_due_reminders(now=start - timedelta(hours=23)).prep == 1
    assert queue_due_reminders(now=start - timedelta(hours=1)) .prep == 0
    assert kinds() == ["appointment.prep_reminder", "appointment.prep_reminder", "appointment.reminder"]
    subjects = sorted(db.session.scalars(select(OutboxMessage.subject)))
    # Discreet by default (issue 12, finding 13): the clinic and the time, never the instruction.
    assert not any("Stop aspirin" in s or "No alcohol" in s for s in subjects)
    assert sum(s.startswith("Preparing for your appointment at Test Clinic") for s in subjects) == 2


def test_a_booking_made_inside_a_reminders_window_gets_no_late_reminder(clinic):
    start = utcnow().replace(microsecond=0) + timedelta(hours=30)
    face_appointment(clinic, start, created=utcnow() - timedelta(minutes=5))
    report = queue_due_reminders(now=utcnow())
    # Booked 30 h ahead: the 48 h reminder and the 7-day step were due before it existed.
    assert (report.appointment, report.prep) == (0, 0)
    later = queue_due_reminders(now=start - timedelta(hours=23))
    assert (later.appointment, later.prep) == (0, 1)  # "no alcohol" (24 h) is still ahead of the booking


def test_a_moved_appointment_gets_fresh_reminders(clinic):
    start = utcnow().replace(microsecond=0) + timedelta(hours=40)
    appointment = face_appointment(clinic, start, created=utcnow() - timedelta(days=20))
    assert queue_due_reminders(now=utcnow()).appointment == 1
    appointment.place(start + timedelta(days=1), 30, 0, 10)
    db.session.commit()
    assert queue_due_reminders(now=utcnow() + timedelta(days=1)).appointment == 1
    assert kinds().count("appointment.reminder") == 2


def test_cancelled_appointments_get_no_reminders_and_the_command_reports(clinic, runner):
    start = utcnow().replace(microsecond=0) + timedelta(hours=30)
    appointment = face_appointment(clinic, start, created=utcnow() - timedelta(days=20))
    appointment.status = "cancelled"
    db.session.commit()
    result = runner.invoke(args=["reminders", "send"])
    assert result.exit_code == 0, result.output
    assert "queued 0 appointment reminder(s), 0 prep reminder(s)" in result.output
    appointment.status = "booked"
    db.session.commit()
    result = runner.invoke(args=["reminders", "send"])
    assert "queued 1 appointment reminder(s), 1 prep reminder(s)" in result.output
