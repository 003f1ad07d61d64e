"""A small, fully known clinic for API and service tests, and helpers to talk to the API.

Europe/Rome; two practitioners Mon-Fri 09:00-17:00 with lunch 13:00-14:00; one room;
a consultation and "Mesotherapy, face" (4 sessions, 10/14/21 days, 72 h aftercare, stop
aspirin 7 days before, consultation at least 2 days before, contraindicated by pregnancy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from booking.extensions import db
from booking.models import Appointment, Intake, Practitioner, Room, Treatment, User
from booking.models.base import utcnow
from tests.integration.factories import (
    make_practitioner,
    make_room,
    make_settings,
    make_treatment,
    make_user,
)

TZ = ZoneInfo("Europe/Rome")
PASSWORD = "password123"


@dataclass
class Clinic:
    """Ids and rows of the test clinic."""

    consultation: Treatment
    face: Treatment
    room: Room
    anna: Practitioner
    bruno: Practitioner
    patient: User
    other_patient: User
    receptionist: User
    admin: User
    practitioner_user: User


def build_clinic() -> Clinic:
    """Create the test clinic and commit it."""
    make_settings(name="Test Clinic", min_notice_hours=24, cancel_cutoff_hours=24, horizon_days=180,
                  slot_step_minutes=15, email="clinic@example.com")
    consultation = make_treatment(slug="consultation", name="Consultation", kind="consultation",
                                  body_area=None, needs_room=False, protocol=dict(sessions=1), prep=[])
    face = make_treatment(
        slug="mesotherapy-face", name="Mesotherapy, face", body_area="face", buffer_after_minutes=10,
        protocol=dict(sessions=4, interval_min_days=10, interval_target_days=14, interval_max_days=21,
                      aftercare_hours=72, consultation_treatment_id=consultation.id,
                      consultation_min_days_before=2, consultation_valid_days=180,
                      contraindications=["pregnant"]),
        prep=[("Stop aspirin and NSAIDs", 7 * 24), ("No alcohol", 24)],
    )
    room = make_room(name="Sala Verde", treatments=[face])
    anna = make_practitioner(user=make_user(name="Anna Practitioner", role="practitioner",
                                            email="anna.p@example.com"),
                             treatments=[consultation, face])
    bruno = make_practitioner(user=make_user(name="Bruno Practitioner", role="practitioner",
                                             email="bruno.p@example.com"),
                              treatments=[consultation, face])
    patient = make_user(name="Paola Patient", email="paola@example.com")
    other = make_user(name="Otto Other", email="otto@example.com")
    for p in (patient, other):
        db.session.add(Intake(patient_id=p.id, answers={"pregnant": False}))
    receptionist = make_user(name="Rita Reception", role="receptionist", email="rita@example.com")
    admin = make_user(name="Adam Admin", role="admin", email="adam@example.com")
    db.session.commit()
    return Clinic(consultation, face, room, anna, bruno, patient, other, receptionist, admin, anna.user)


def monday_in(weeks: int) -> date:
    """The Monday ``weeks`` weeks after this week's Monday (clinic time)."""
    today = utcnow().astimezone(TZ).date()
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A clinic-local wall-clock time on ``day`` as an aware datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def token_for(client, email: str, password: str = PASSWORD) -> str:
    """A bearer token from the API."""
    response = client.post("/api/v1/tokens", json={"email": email, "password": password})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


class Api:
    """The JSON API as one user sees it."""

    def __init__(self, client, email: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token_for(client, email)}"}

    def get(self, path: str, **kwargs):
        return self.client.get(f"/api/v1{path}", headers=self.headers, **kwargs)

    def post(self, path: str, json=None, headers=None):
        return self.client.post(f"/api/v1{path}", json=json if json is not None else {},
                                headers={**self.headers, **(headers or {})})

    def patch(self, path: str, json=None, headers=None):
        return self.client.patch(f"/api/v1{path}", json=json or {}, headers={**self.headers, **(headers or {})})

    def delete(self, path: str):
        return self.client.delete(f"/api/v1{path}", headers=self.headers)


def book_consultation(clinic: Clinic, patient: User, start: datetime, status: str = "completed") -> Appointment:
    """Store a consultation for ``patient`` directly (as if it happened / was booked earlier)."""
    appointment = Appointment(patient_id=patient.id, practitioner_id=clinic.bruno.id, room_id=None,
                              treatment_id=clinic.consultation.id, status=status)
    appointment.place(start, 30, 0, 0)
    db.session.add(appointment)
    db.session.commit()
    return appointment


def codes(response) -> list[str]:
    """The problem codes of an error response."""
    return [p["code"] for p in response.get_json()["error"].get("problems") or []]
