"""Holds (issue 15): a held time is busy for everyone else by the same rules and database
constraints as a booking, stops blocking the moment it expires (before anything tidies it),
and becomes the appointment in one transaction; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from booking.extensions import db
from booking.models import HELD, Appointment, AuditEvent, OutboxMessage
from booking.models.base import utcnow
from booking.services import holds
from booking.services import booking as booking_service
from booking.services.actor import Actor
from booking.services.availability import available_slots
from booking.services.errors import RuleViolation
from tests.integration.clinic import TZ, Api, at, build_clinic, monday_in
from tests.integration.test_concurrency import live_server, new_patients, race  # noqa: F401  (fixture)


@pytest.fixture
def clinic(app):
    return build_clinic()


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def expire(hold_id: int) -> None:
    """Let a hold run out (as if its minutes had passed)."""
    db.session.execute(update(Appointment).where(Appointment.id == hold_id)
                       .values(hold_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def free_starts(clinic, day, patient) -> set:
    slots = available_slots(Actor.of(patient), treatment_slug="consultation", first_day=day, last_day=day,
                            practitioner_id=clinic.anna.id, reuse=False).slots
    return {s.start for s in slots}


def test_a_hold_is_busy_for_everyone_else_and_becomes_the_appointment(client, clinic):
    start = at(monday_in(2), 10)
    hold = holds.create_hold(Actor.of(clinic.patient), treatment_slug="consultation", start=start,
                             practitioner_id=clinic.anna.id, minutes=30)
    assert hold.status == HELD and hold.hold_expires_at > utcnow()
    assert count(OutboxMessage) == 0  # offered, not booked: no invite yet
    # Nobody else may take it, and the free times do not offer it.
    with pytest.raises(RuleViolation) as refused:
        booking_service.book_appointment(Actor.of(clinic.other_patient), treatment_slug="consultation",
                                         start=start, practitioner_id=clinic.anna.id)
    assert [p.code for p in refused.value.problems] == ["slot_taken"]
    assert start not in free_starts(clinic, start.date(), clinic.other_patient)
    # The database refuses an overlapping row outright, hold or booking.
    intruder = Appointment(patient_id=clinic.other_patient.id, practitioner_id=clinic.anna.id,
                           treatment_id=clinic.consultation.id, status="booked")
    intruder.place(start + timedelta(minutes=15), 30, 0, 0)
    db.session.add(intruder)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    # Booking it turns the same row into the appointment, with one invite.
    booked = holds.book_hold(Actor.of(clinic.patient), hold.id)
    assert booked.id == hold.id and booked.status == "booked" and booked.hold_expires_at is None
    assert count(OutboxMessage, OutboxMessage.kind == "appointment.booked") == 1
    assert count(AuditEvent, AuditEvent.action == "hold.created") == 1
    assert count(AuditEvent, AuditEvent.action == "appointment.booked") == 1


def test_a_hold_stops_blocking_the_moment_it_expires(client, clinic):
    start = at(monday_in(2), 11)
    hold = holds.create_hold(Actor.of(clinic.patient), treatment_slug="consultation", start=start,
                             practitioner_id=clinic.anna.id, minutes=5)
    hold_id = hold.id
    assert start not in free_starts(clinic, start.date(), clinic.other_patient)
    expire(hold_id)  # nothing has tidied it: the row is still there ...
    assert count(Appointment, Appointment.id == hold_id) == 1
    assert start in free_starts(clinic, start.date(), clinic.other_patient)  # ... yet the time is free
    other = booking_service.book_appointment(Actor.of(clinic.other_patient), treatment_slug="consultation",
                                             start=start, practitioner_id=clinic.anna.id)
    assert other.status == "booked"
    assert count(Appointment, Appointment.status == HELD) == 0  # the write over its time removed it
    with pytest.raises(holds.NotFound):
        holds.book_hold(Actor.of(clinic.patient), hold_id)


def test_booking_an_expired_hold_is_410_and_the_timer_tidies_expired_holds(client, clinic):
    api = Api(client, clinic.patient.email)
    start = at(monday_in(2), 12)
    made = api.post("/holds", {"treatment": "consultation", "start": start.isoformat(),
                               "practitioner_id": clinic.anna.id, "minutes": 10})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["start"].startswith(start.strftime("%Y-%m-%dT%H:%M")) and body["expires_at"]
    other = Api(client, clinic.other_patient.email)
    assert other.post(f"/holds/{body['id']}/book").status_code == 404  # not theirs
    assert other.post("/holds", {"treatment": "consultation", "start": start.isoformat(),
                                 "practitioner_id": clinic.anna.id}).status_code == 409
    assert api.post("/holds", {"treatment": "consultation", "start": start.isoformat(),
                               "practitioner_id": clinic.anna.id, "minutes": 0}).status_code == 400
    expire(body["id"])
    gone = api.post(f"/holds/{body['id']}/book")
    assert gone.status_code == 410 and gone.get_json()["error"]["code"] == "hold_expired"
    assert holds.expire_holds() == 1
    assert count(Appointment, Appointment.status == HELD) == 0
    # A live hold released gives the time back at once.
    again = api.post("/holds", {"treatment": "consultation", "start": start.isoformat(),
                                "practitioner_id": clinic.anna.id}).get_json()
    assert api.delete(f"/holds/{again['id']}").status_code == 204
    assert other.post("/appointments", {"treatment": "consultation", "start": start.isoformat(),
                                        "practitioner_id": clinic.anna.id}).status_code == 201
    # Holds never show as appointments.
    assert all(a["status"] != "held" for a in api.get("/appointments").get_json())


def test_two_patients_holding_the_same_time_at_once_one_wins(app, client, clinic, live_server):  # noqa: F811
    from tests.integration.test_concurrency import fresh_session, http_post

    start = at(monday_in(2), 14)
    payload = {"treatment": "consultation", "start": start.isoformat(), "practitioner_id": clinic.anna.id}
    patients = new_patients(client, 8)
    fresh_session()

    def contender(i: int, barrier: threading.Barrier):
        barrier.wait()
        return http_post(live_server, "/holds", payload, patients[i]["token"])

    results = race(8, contender)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 7, results
    fresh_session()
    assert count(Appointment, Appointment.status == HELD) == 1
    # The winner books it; a late booking by another is refused with a clear answer.
    winner = next(i for i, (status, _) in enumerate(results) if status == 201)
    hold_id = results[winner][1]["id"]
    status, _ = http_post(live_server, f"/holds/{hold_id}/book", {}, patients[winner]["token"])
    assert status == 201
    loser = (winner + 1) % 8
    status, body = http_post(live_server, "/appointments", payload, patients[loser]["token"])
    assert status == 409 and body["error"]["code"] == "slot_taken"
    assert TZ  # clinic time zone used by ``at``


def test_the_waitlist_command_removes_expired_holds(clinic, runner):
    hold = holds.create_hold(Actor.of(clinic.patient), treatment_slug="consultation", start=at(monday_in(2), 15),
                             practitioner_id=clinic.anna.id)
    live = holds.create_hold(Actor.of(clinic.other_patient), treatment_slug="consultation",
                             start=at(monday_in(2), 16), practitioner_id=clinic.anna.id)
    expire(hold.id)
    result = runner.invoke(args=["waitlist", "run"])
    assert result.exit_code == 0 and "removed 1 expired hold(s)" in result.output, result.output
    assert count(Appointment, Appointment.status == HELD) == 1 and live.id
