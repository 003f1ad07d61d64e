"""Reused availability answers (services/availability.py ``answer_key``): an answer is reused
only while nothing it depends on changed, whoever changed it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from booking.extensions import db
from booking.services import availability, rule_cache
from booking.services.actor import Actor
from tests.integration.clinic import Api, at, build_clinic, monday_in

ROOT = Path(__file__).resolve().parents[2]


def starts(api: Api, day, practitioner_id: int) -> list[str]:
    """Local "HH:MM" consultation starts of one practitioner on ``day`` (a fresh request)."""
    db.session.remove()  # each served request has its own session
    response = api.get(f"/availability?treatment=consultation&start={day}&end={day}&practitioner={practitioner_id}")
    assert response.status_code == 200, response.get_json()
    return [s["start"][11:16] for s in response.get_json()["slots"]]


def book(api: Api, patient_id: int, start, practitioner_id: int) -> int:
    """Book a consultation through the API; its id."""
    response = api.post("/appointments", json={"treatment": "consultation", "start": start.isoformat(),
                                               "practitioner_id": practitioner_id, "patient_id": patient_id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_an_answer_is_reused_until_a_booking_cancel_or_move_changes_it(app, client):
    clinic = build_clinic()
    anna, patient = clinic.anna.id, clinic.patient.id
    api = Api(client, "rita@example.com")
    day = monday_in(2)
    first = starts(api, day, anna)
    assert "10:00" in first and "11:00" in first
    key = availability.available_slots(None, treatment_slug="consultation", first_day=day, last_day=day).key
    again = availability.available_slots(None, treatment_slug="consultation", first_day=day, last_day=day)
    assert key is not None and again.key == key  # nothing changed: the same answer

    appointment_id = book(api, patient, at(day, 10), anna)
    booked = starts(api, day, anna)
    assert "10:00" not in booked and "11:00" in booked

    moved = api.patch(f"/appointments/{appointment_id}", json={"start": at(day, 11).isoformat()})
    assert moved.status_code == 200, moved.get_json()
    after_move = starts(api, day, anna)
    assert "10:00" in after_move and "11:00" not in after_move  # same count, same ids: still seen

    cancelled = api.post(f"/appointments/{appointment_id}/cancel", json={"reason": "test"})
    assert cancelled.status_code == 200, cancelled.get_json()
    assert starts(api, day, anna) == first


def test_a_booking_made_by_another_process_is_seen_at_once(app, client, database_url):
    clinic = build_clinic()
    bruno, receptionist, other = clinic.bruno.id, clinic.receptionist.id, clinic.other_patient.id
    api = Api(client, "rita@example.com")
    day = monday_in(2)
    assert "09:30" in starts(api, day, bruno)
    script = textwrap.dedent(f"""
        from datetime import datetime
        from booking import create_app
        from booking.services import booking
        from booking.services.actor import Actor
        app = create_app("testing", SQLALCHEMY_DATABASE_URI={database_url!r})
        with app.app_context():
            booking.book_appointment(Actor({receptionist}, "receptionist"), treatment_slug="consultation",
                                     start=datetime.fromisoformat({at(day, 9, 30).isoformat()!r}),
                                     practitioner_id={bruno}, patient_id={other})
    """)
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=120)
    assert "09:30" not in starts(api, day, bruno)


def test_what_is_never_reused(app, client):
    clinic = build_clinic()
    day = monday_in(2)
    now = at(day - timedelta(days=7), 8, 0)

    def key(actor, **kwargs):
        return availability.available_slots(actor, treatment_slug="consultation", first_day=day, last_day=day,
                                            **kwargs).key

    assert key(Actor.of(clinic.patient), now=now) is None  # a patient's answer depends on their own facts
    assert key(None, now=now, reuse=False) is None
    assert key(None, now=now) == key(None, now=now + timedelta(seconds=59))
    assert key(None, now=now) != key(None, now=now + timedelta(minutes=1))  # leads count from now
    assert key(None, now=now) != key(None, now=now, practitioner_id=clinic.anna.id)


def test_the_api_reuses_a_written_answer_until_its_key_changes_and_never_when_told_not_to(app, client, monkeypatch):
    clinic = build_clinic()
    api = Api(client, "rita@example.com")
    day = monday_in(2)
    worked_out = []
    search = availability.available_slots

    def counted(*args, **kwargs):
        worked_out.append(kwargs["first_day"])
        return search(*args, **kwargs)

    monkeypatch.setattr(availability, "available_slots", counted)
    path = f"/availability?treatment=consultation&start={day}&end={day}&practitioner={clinic.anna.id}"
    first = api.get(path)
    again = api.get(path)
    assert first.status_code == again.status_code == 200
    assert again.data == first.data and len(worked_out) == 1  # the same bytes, worked out once

    rule_cache.forget()  # explicit: this process drops what it keeps
    assert api.get(path).data == first.data and len(worked_out) == 2

    app.config["AVAILABILITY_MEMO"] = False
    api.get(path)
    api.get(path)
    assert len(worked_out) == 4
