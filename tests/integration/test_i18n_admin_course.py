"""Issue 16, Italian and English: the texts of the admin, course, audit, intake and sign-in
services reach people in the language of their request (``?lang=`` or ``Accept-Language``);
English stays as it was."""

from __future__ import annotations

import re

import pytest
from flask_babel import refresh

from booking.extensions import db
from booking.models import OutboxMessage, User
from booking.models.base import utcnow
from booking.services import audit
from booking.services.audit_log import describe_events
from tests.integration.clinic import PASSWORD, Api, at, build_clinic, monday_in
from tests.integration.test_admin import face_at

IT = {"Accept-Language": "it"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, user):
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def text_of(html: str) -> str:
    """The page's words, tags dropped, entities of quotes kept readable, spaces collapsed."""
    words = re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")
    return " ".join(words.split())


def test_the_intake_questions_follow_the_language_on_the_page(client, clinic):
    login(client, clinic.patient)
    italian = text_of(client.get("/me/intake?lang=it").get_data(as_text=True))
    assert "Sei in gravidanza o stai allattando?" in italian and "Hai una malattia autoimmune?" in italian
    assert "Are you pregnant" not in italian
    english = text_of(client.get("/me/intake?lang=en").get_data(as_text=True))
    assert "Are you pregnant or breastfeeding?" in english and "Sei in gravidanza" not in english


def test_the_api_gives_the_intake_questions_in_the_callers_language(client, clinic):
    api = Api(client, clinic.patient.email)
    api.headers = {**api.headers, **IT}
    questions = {q["key"]: q["text"] for q in api.get("/intake").get_json()["questions"]}
    assert questions["pregnant"] == "Sei in gravidanza o stai allattando?"  # the keys stay codes
    api.headers = {**api.headers, **EN}
    questions = {q["key"]: q["text"] for q in api.get("/intake").get_json()["questions"]}
    assert questions["pregnant"] == "Are you pregnant or breastfeeding?"


def test_an_audit_sentence_and_its_field_names_are_in_the_readers_language(client, clinic):
    audit.record("settings.changed", actor_id=clinic.admin.id, entity_type="clinic_settings", entity_id=1,
                 before={"name": "Old Clinic", "min_notice_hours": 12},
                 after={"name": "Test Clinic", "min_notice_hours": 24})
    db.session.commit()
    login(client, clinic.admin)
    italian = text_of(client.get("/admin/audit?lang=it").get_data(as_text=True))
    assert "Adam Admin ha modificato le impostazioni della clinica: ore minime di preavviso, nome." in italian
    assert "changed the clinic settings" not in italian
    assert "(amministratore)" in italian  # the actor's role, named
    english = text_of(client.get("/admin/audit?lang=en").get_data(as_text=True))
    assert "Adam Admin changed the clinic settings: min notice hours, name." in english
    assert "(admin)" in english


def test_message_kinds_are_named_in_the_readers_language_on_settings_and_outbox(client, clinic):
    db.session.add(OutboxMessage(kind="prep.confirm", to_addr="paola@example.com", subject="Ready?",
                                 body_text="x", status="failed", attempts=8, last_error="550 no such mailbox"))
    db.session.commit()
    login(client, clinic.admin)
    italian = text_of(client.get("/admin/settings?lang=it").get_data(as_text=True))
    assert "Richieste di conferma della preparazione prima di ogni seduta" in italian
    assert "Prep confirmation requests" not in italian
    english = text_of(client.get("/admin/settings?lang=en").get_data(as_text=True))
    assert "Prep confirmation requests before each session" in english

    outbox = text_of(client.get("/admin/outbox?lang=it").get_data(as_text=True))
    assert "Richiesta di conferma della preparazione" in outbox and "prep.confirm" not in outbox
    overview = text_of(client.get("/admin?lang=en").get_data(as_text=True))
    assert "Prep confirmation request to paola@example.com:" in overview


def test_a_prep_link_refusal_is_said_in_the_visitors_language(client, clinic):
    italian = client.get("/prep/no-such-secret", headers=IT)
    assert italian.status_code == 410
    assert "Questo link non è più valido" in text_of(italian.get_data(as_text=True))
    english = client.get("/prep/no-such-secret", headers=EN)
    assert english.status_code == 410
    assert "This link is not valid any more (the session may have moved" in text_of(english.get_data(as_text=True))


def test_an_erasure_refusal_from_clinic_admin_is_in_the_admins_language(client, clinic):
    patient = db.session.get(User, clinic.patient.id)
    patient.erasure_requested_at = utcnow()
    db.session.commit()
    face_at(clinic, at(monday_in(3), 10))
    login(client, clinic.admin)
    italian = client.post(f"/admin/patients/{patient.id}/erase?lang=it", follow_redirects=True)
    assert ("Paola Patient ha ancora 1 appuntamento in programma; annullalo prima di cancellare l’account."
            in text_of(italian.get_data(as_text=True)))
    english = client.post(f"/admin/patients/{patient.id}/erase?lang=en", follow_redirects=True)
    assert ("Paola Patient still has 1 upcoming appointment; cancel it before erasing the account."
            in text_of(english.get_data(as_text=True)))
    db.session.rollback()
    assert db.session.get(User, patient.id).active  # refused both times


def test_a_wrong_password_for_an_api_token_is_said_in_the_callers_language(client, clinic):
    wrong = {"email": clinic.patient.email, "password": "not-the-password"}
    italian = client.post("/api/v1/tokens", json=wrong, headers=IT)
    assert italian.status_code == 401
    assert "E-mail o password errate." in italian.get_data(as_text=True)
    assert "Wrong e-mail" not in italian.get_data(as_text=True)
    english = client.post("/api/v1/tokens", json=wrong, headers=EN)
    assert english.status_code == 401 and "Wrong e-mail or password." in english.get_data(as_text=True)


def test_outside_a_request_the_services_speak_english(app, clinic):
    """A worker or the shell has no reader: the sentences come out in English, as before."""
    event = audit.record("recall.declined", actor_id=clinic.receptionist.id, entity_type="recall", entity_id=1,
                         patient_id=clinic.patient.id)
    db.session.commit()
    (entry,) = describe_events([event])
    assert entry.sentence == "Rita Reception recorded that Paola Patient declined maintenance for now"
    with app.test_request_context("/", headers=IT):
        refresh()  # the test's app context already chose English for the code above
        (entry,) = describe_events([event])
    assert entry.sentence == "Rita Reception ha registrato che Paola Patient per ora rinuncia al mantenimento"
