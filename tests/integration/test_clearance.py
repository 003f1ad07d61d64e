"""A practitioner clears a contraindicated patient; then the patient can book online."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import AuditEvent, Clearance, Intake
from tests.integration.clinic import PASSWORD, Api, at, book_consultation, build_clinic, monday_in


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    intake = db.session.scalar(select(Intake).where(Intake.patient_id == clinic.patient.id))
    intake.answers = {"pregnant": True}
    db.session.commit()
    return clinic


def login(client, email):
    client.post("/login", data={"email": email, "password": PASSWORD})


def test_only_a_practitioner_clears_and_the_patient_can_then_book(client, clinic):
    api = Api(client, clinic.patient.email)
    payload = {"treatment": "mesotherapy-face", "start": at(monday_in(3), 10).isoformat(),
               "practitioner_id": clinic.anna.id}
    assert api.post("/appointments", payload).status_code == 422
    client.post("/logout")

    login(client, clinic.receptionist.email)
    assert client.get(f"/reception/patients/{clinic.patient.id}/health").status_code == 403
    client.post("/logout")

    login(client, clinic.admin.email)
    page = client.get(f"/reception/patients/{clinic.patient.id}/health").get_data(as_text=True)
    assert "Mesotherapy, face" in page and "A practitioner can clear" in page
    client.post(f"/reception/patients/{clinic.patient.id}/health",
                data={"treatment_id": clinic.face.id, "note": "admin tries"})
    assert db.session.scalar(select(Clearance)) is None
    client.post("/logout")

    # Bruno gave Paola's consultation: she is his patient (issue 12, finding 14: only theirs).
    login(client, clinic.bruno.user.email)
    empty = client.post(f"/reception/patients/{clinic.patient.id}/health",
                        data={"treatment_id": clinic.face.id, "note": ""})
    assert "Say why the patient is cleared." in empty.get_data(as_text=True)
    assert db.session.scalar(select(Clearance)) is None
    client.post(f"/reception/patients/{clinic.patient.id}/health",
                data={"treatment_id": clinic.face.id, "note": "Breastfeeding ended; checked with GP"})
    clearance = db.session.scalar(select(Clearance))
    assert clearance.cleared_by_id == clinic.bruno.user_id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.cleared"))
    assert event.reason == "Breastfeeding ended; checked with GP"
    client.post("/logout")

    api = Api(client, clinic.patient.email)
    assert api.post("/appointments", payload).status_code == 201


def test_patients_and_anonymous_cannot_see_health_answers(client, clinic):
    assert client.get(f"/reception/patients/{clinic.patient.id}/health").status_code == 302
    login(client, clinic.patient.email)
    assert client.get(f"/reception/patients/{clinic.patient.id}/health").status_code == 403
    client.post("/logout")
    login(client, clinic.practitioner_user.email)
    assert client.get("/reception/patients/999999/health").status_code == 404
