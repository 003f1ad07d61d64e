"""A use case's refusal on the HTML pages (booking/web/refusals.py): each blueprint's one handler
rolls back, then shows the form again, a 404, or the message after a redirect back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Appointment, AuditEvent, Room, User
from booking.models.base import utcnow
from tests.integration.clinic import PASSWORD, at, book_consultation, build_clinic, monday_in


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, user):
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_refused_admin_form_is_shown_again_with_its_input_and_writes_nothing(client, clinic):
    login(client, clinic.admin)
    rooms = count(Room)
    refused = client.post("/admin/rooms", data={"name": clinic.room.name, "active": "y",
                                                "treatments": [str(clinic.face.id)]})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert f"Another room is already called {clinic.room.name!r}. Nothing was changed." in page.replace("&#39;", "'")
    assert f'value="{clinic.room.name}"' in page  # the form keeps what was typed
    assert count(Room) == rooms
    # The session was rolled back: the next request of the same client works as usual.
    added = client.post("/admin/rooms", data={"name": "Sala Blu", "active": "y"})
    assert added.status_code == 302 and count(Room) == rooms + 1


def test_something_that_no_longer_exists_is_a_404_page_naming_it(client, clinic):
    login(client, clinic.admin)
    response = client.post("/admin/schedule/time_off/424242/delete", data={})
    assert response.status_code == 404
    assert "That entry no longer exists." in response.get_data(as_text=True)


def test_a_refused_panel_action_goes_back_with_the_message(client, clinic):
    done = book_consultation(clinic, clinic.patient, at(monday_in(2), 10), status="cancelled")
    login(client, clinic.receptionist)
    url = f"/reception/appointments/{done.id}/status"
    # The form's "next" first, then the referring page of this site, else the appointment's panel.
    with_next = client.post(url, data={"action": "check_in", "next": "/reception?date=2030-01-07"})
    assert with_next.status_code == 302 and with_next.headers["Location"] == "/reception?date=2030-01-07"
    referred = client.post(url, data={"action": "check_in"},
                           headers={"Referer": "http://localhost/reception/day-sheet?date=2030-01-07"})
    assert referred.headers["Location"] == "/reception/day-sheet?date=2030-01-07"
    elsewhere = client.post(url, data={"action": "check_in"}, headers={"Referer": "https://evil.example/x"})
    assert elsewhere.headers["Location"] == f"/reception/appointments/{done.id}"
    page = client.get(elsewhere.headers["Location"]).get_data(as_text=True)
    assert "Not done: This appointment is cancelled" in page
    assert count(AuditEvent, AuditEvent.action == "appointment.check_in") == 0


def test_a_refused_drag_answers_the_override_dialog_in_json(client, clinic):
    done = book_consultation(clinic, clinic.patient, at(monday_in(2), 10), status="cancelled")
    login(client, clinic.receptionist)
    response = client.post(f"/reception/api/appointments/{done.id}/move",
                           json={"start": at(monday_in(2), 11).strftime("%Y-%m-%dT%H:%M:%S")})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "invalid_state"
    missing = client.post("/reception/api/appointments/424242/move", json={"start": "2030-01-07T10:00:00"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_a_patient_refused_inside_the_cutoff_is_told_to_call(client, clinic):
    soon = book_consultation(clinic, clinic.patient, utcnow() + timedelta(hours=5), status="booked")
    login(client, clinic.patient)
    response = client.post(f"/me/appointments/{soon.id}/reschedule",
                           data={"slot": f"{(utcnow() + timedelta(days=9)).isoformat()}|{clinic.anna.id}"})
    assert response.headers["Location"] == f"/me/appointments/{soon.id}/reschedule"  # the form's own page
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Call us on +39 06 000." in page
    cancelled = client.post(f"/me/appointments/{soon.id}/cancel", data={})
    assert cancelled.headers["Location"] == "/me"
    assert count(Appointment, Appointment.status == "cancelled") == 0


def test_a_taken_email_on_registration_is_not_revealed(client, clinic):
    # Issue 12 finding 8: the visitor gets the answer a new account gets; the owner is mailed
    # (tests/integration/test_security_auth.py).
    response = client.post("/register", data={"name": "Paola Again", "email": clinic.patient.email,
                                              "phone": "+39 333 1234567", "password": "long-enough-pw",
                                              "confirm": "long-enough-pw"})
    assert response.status_code == 302 and response.headers["Location"] == "/me"
    assert "already exists" not in response.get_data(as_text=True)
    assert count(User, User.email == clinic.patient.email) == 1
