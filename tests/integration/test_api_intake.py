"""The API screens like the web (issue 11, item 4): the health questionnaire through the API, and
``intake_required`` for every booking the web wizard would send to the questionnaire first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import INTAKE_QUESTIONS, Appointment, AuditEvent, Intake, Series, User
from booking.web.book.state import PENDING, encode
from tests.integration.clinic import PASSWORD, Api, at, book_consultation, build_clinic, codes, monday_in
from tests.integration.factories import make_user

NO_TO_ALL = {key: False for key in INTAKE_QUESTIONS}


@pytest.fixture
def clinic(app):
    return build_clinic()


@pytest.fixture
def newcomer(clinic) -> User:
    """A patient who had the consultation but never filled in the questionnaire."""
    patient = make_user(name="Nora Newcomer", email="nora@example.com")
    db.session.commit()
    book_consultation(clinic, patient, at(monday_in(2), 9))
    return patient


@pytest.fixture
def newcomer_api(client, newcomer):
    return Api(client, newcomer.email)


@pytest.fixture
def reception_api(client, clinic):
    return Api(client, clinic.receptionist.email)


def put_intake(api, body):
    return api.client.put("/api/v1/intake", json=body, headers=api.headers)


def series_body(clinic, **extra) -> dict:
    """The face series, four sessions 14 days apart from Monday in three weeks."""
    starts = [at(monday_in(3) + timedelta(days=14 * i), 10) for i in range(4)]
    return {"treatment": "mesotherapy-face",
            "sessions": [{"start": s.isoformat(), "practitioner_id": clinic.anna.id} for s in starts], **extra}


def single_body(clinic, treatment="mesotherapy-face", **extra) -> dict:
    return {"treatment": treatment, "start": at(monday_in(3), 10).isoformat(),
            "practitioner_id": clinic.anna.id, **extra}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def assert_intake_required(response):
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "intake_required" and codes(response) == ["intake_required"]
    assert "/api/v1/intake" in error["problems"][0]["message"]
    assert "Health questionnaire" in error["problems"][0]["message"]


# --- the rule -------------------------------------------------------------------------------
def test_a_series_waits_for_the_questionnaire_then_books(clinic, newcomer, newcomer_api):
    refused = newcomer_api.post("/series", series_body(clinic))
    assert_intake_required(refused)
    assert count(Series) == 0 and count(Appointment) == 1  # the consultation only
    assert count(Intake) == 2  # the clinic's two patients; nothing stored for the newcomer

    assert put_intake(newcomer_api, {"answers": NO_TO_ALL}).status_code == 200
    booked = newcomer_api.post("/series", series_body(clinic))
    assert booked.status_code == 201, booked.get_json()
    assert len(booked.get_json()["appointments"]) == 4


def test_answers_that_rule_the_treatment_out_are_contraindicated_as_on_the_web(clinic, client, newcomer,
                                                                              newcomer_api):
    assert put_intake(newcomer_api, {"answers": {**NO_TO_ALL, "pregnant": True}}).status_code == 200
    response = newcomer_api.post("/series", series_body(clinic))
    assert response.status_code == 422 and set(codes(response)) == {"contraindicated"}
    assert count(Series) == 0

    web = _web_client_with_pending(client.application, newcomer, "mesotherapy-face", clinic)
    page = web.get("/book/review")
    assert page.status_code == 200 and "Are you pregnant or breastfeeding?" in page.get_data(as_text=True)


def test_a_single_appointment_waits_for_the_questionnaire_too(clinic, newcomer, newcomer_api):
    assert_intake_required(newcomer_api.post("/appointments", single_body(clinic)))
    assert count(Appointment) == 1
    put_intake(newcomer_api, {"answers": NO_TO_ALL})
    assert newcomer_api.post("/appointments", single_body(clinic)).status_code == 201


def test_a_treatment_without_contraindications_needs_no_questionnaire(clinic, newcomer, newcomer_api):
    booked = newcomer_api.post("/appointments", single_body(clinic, treatment="consultation"))
    assert booked.status_code == 201, booked.get_json()


def test_the_plan_names_the_missing_questionnaire(clinic, newcomer, newcomer_api):
    response = newcomer_api.post("/series/plan", {"treatment": "mesotherapy-face",
                                                  "first_start": at(monday_in(3), 10).isoformat()})
    assert response.status_code == 200
    assert "intake_required" in [p["code"] for p in response.get_json()["problems"]]


def test_staff_see_the_missing_questionnaire_and_may_override_it_with_a_reason(clinic, newcomer, reception_api):
    body = series_body(clinic, patient_id=newcomer.id)
    refused = reception_api.post("/series", body)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "intake_required"
    assert "override_reason" in refused.get_json()["error"]["message"]
    assert count(Series) == 0

    done = reception_api.post("/series", {**body, "override_reason": "Questionnaire on paper, scanned"})
    assert done.status_code == 201, done.get_json()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "series.booked")).one()
    assert event.after["overridden"] == ["intake_required"]
    assert event.reason == "Questionnaire on paper, scanned" and event.actor_id == clinic.receptionist.id
    booked = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.booked")).all()
    assert len(booked) == 4 and all(e.after["overridden"] == ["intake_required"] for e in booked)


def test_staff_single_booking_needs_a_reason_too(clinic, newcomer, reception_api):
    body = single_body(clinic, patient_id=newcomer.id)
    assert reception_api.post("/appointments", body).get_json()["error"]["code"] == "intake_required"
    assert reception_api.post("/appointments", {**body, "override_reason": "Filled in at the desk"}).status_code == 201


# --- web and API ask for the same bookings ----------------------------------------------------
def _web_client_with_pending(app, patient, slug, clinic):
    """A browser signed in as ``patient`` with a booking of ``slug`` waiting for review."""
    web = app.test_client()
    assert web.post("/login", data={"email": patient.email, "password": PASSWORD}).status_code == 302
    with web.session_transaction() as session:
        session[PENDING] = {"slug": slug, "sessions": encode([(at(monday_in(3), 10), clinic.anna.id)])}
    return web


@pytest.mark.parametrize("slug, asked", [("mesotherapy-face", True), ("consultation", False)])
def test_the_web_wizard_asks_for_the_questionnaire_exactly_when_the_api_refuses(clinic, client, newcomer,
                                                                                newcomer_api, slug, asked):
    web = _web_client_with_pending(client.application, newcomer, slug, clinic)
    review = web.get("/book/review")
    assert ("/me/intake" in review.headers.get("Location", "")) is asked
    api_answer = newcomer_api.post("/appointments", single_body(clinic, treatment=slug))
    refused = api_answer.status_code == 422 and "intake_required" in codes(api_answer)
    assert refused is asked and (asked or api_answer.status_code == 201)
    if asked:  # filled in on the web, it is on file for the API as well
        saved = web.post("/me/intake?next=/book/review", data={"confirm": "y", "next": "/book/review"})
        assert saved.headers["Location"] == "/book/review"
        assert "Confirm your booking" in web.get("/book/review").get_data(as_text=True)
        assert newcomer_api.post("/appointments", single_body(clinic, treatment=slug)).status_code == 201


# --- GET and PUT /intake ----------------------------------------------------------------------
def test_get_shows_the_questions_and_null_answers_until_filled_in(clinic, newcomer, newcomer_api):
    before = newcomer_api.get("/intake")
    assert before.status_code == 200
    body = before.get_json()
    assert body["questions"] == [{"key": k, "text": t} for k, t in INTAKE_QUESTIONS.items()]
    assert body["answers"] is None and body["notes"] is None and body["completed_at"] is None

    answers = {**NO_TO_ALL, "allergies": True}
    saved = put_intake(newcomer_api, {"answers": answers, "notes": "  Penicillin  "})
    assert saved.status_code == 200
    assert saved.get_json()["answers"] == answers and saved.get_json()["notes"] == "Penicillin"
    assert saved.get_json()["questions"] == body["questions"]
    after = newcomer_api.get("/intake").get_json()
    assert after == saved.get_json() and after["completed_at"].endswith(("+01:00", "+02:00"))
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "intake.saved")).one()
    # The audit log says what the answers rule out, never the answers (issue 12, finding 2).
    assert event.actor_id == newcomer.id and event.after == {"rules_out": []}


def test_put_replaces_the_answers(clinic, newcomer, newcomer_api):
    put_intake(newcomer_api, {"answers": {**NO_TO_ALL, "pregnant": True}, "notes": "due in May"})
    again = put_intake(newcomer_api, {"answers": NO_TO_ALL})
    assert again.get_json()["answers"] == NO_TO_ALL and again.get_json()["notes"] == ""
    assert count(Intake) == 3


@pytest.mark.parametrize("answers, code, named", [
    ({**NO_TO_ALL, "smoker": False}, "unknown_question", "smoker"),
    ({k: v for k, v in NO_TO_ALL.items() if k != "keloids"}, "answer_missing", "keloids"),
    ({}, "answer_missing", "pregnant"),
])
def test_an_unknown_or_missing_answer_is_a_400_naming_the_key(clinic, newcomer, newcomer_api, answers, code, named):
    response = put_intake(newcomer_api, {"answers": answers})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code and named in error["message"]
    assert newcomer_api.get("/intake").get_json()["answers"] is None


@pytest.mark.parametrize("body, field", [
    ({"answers": {**NO_TO_ALL, "pregnant": "no"}}, "answers.pregnant"),
    ({"answers": NO_TO_ALL, "extra": 1}, "extra"),
    ({"notes": "no answers"}, "answers"),
])
def test_a_malformed_body_is_a_400_naming_the_field(clinic, newcomer, newcomer_api, body, field):
    response = put_intake(newcomer_api, body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_input"
    assert field in response.get_json()["error"]["message"]
    assert count(Intake) == 2


@pytest.mark.parametrize("role", ["receptionist", "admin", "practitioner_user"])
def test_staff_have_no_questionnaire_of_their_own(clinic, client, role):
    api = Api(client, getattr(clinic, role).email)
    for response in (api.get("/intake"), put_intake(api, {"answers": NO_TO_ALL})):
        assert response.status_code == 403
        error = response.get_json()["error"]
        assert error["code"] == "forbidden" and "Only a patient" in error["message"]
    assert count(Intake) == 2


def test_the_questionnaire_needs_a_sign_in(clinic, client):
    assert client.get("/api/v1/intake").status_code == 401
    assert client.put("/api/v1/intake", json={"answers": NO_TO_ALL}).status_code == 401


def test_both_operations_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    operations = paths["/api/v1/intake"]
    assert set(operations) >= {"get", "put"}
    assert operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/IntakeOut")
    assert operations["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/IntakeIn")
    assert "403" in operations["put"]["responses"]
