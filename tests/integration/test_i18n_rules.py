"""Issue 16: the rule book's problem messages and the API's error messages in the reader's
language. An Italian reader who breaks a rule reads the Italian sentence with Italian day and
month names, through the booking wizard and through the API (``Accept-Language: it``); the
problem codes stay the same English; an English reader reads the same English as before."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest
from babel.dates import format_datetime

from booking.extensions import db
from booking.models.base import utcnow
from tests.integration.clinic import TZ, Api, at, book_consultation, build_clinic, monday_in
from tests.integration.factories import make_treatment


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    return clinic


@pytest.fixture
def patient_api(client, clinic):
    return Api(client, clinic.patient.email)


def saturday():
    return at(monday_in(3) + timedelta(days=5), 10)


def italian(moment) -> str:
    """A moment as the Italian messages show it ("sab 24 gen 10:00")."""
    return format_datetime(moment, "EEE d MMM HH:mm", tzinfo=TZ, locale="it")


def book(api, clinic, start, treatment="mesotherapy-face", headers=None):
    return api.post("/appointments", {"treatment": treatment, "start": start.isoformat(),
                                      "practitioner_id": clinic.anna.id}, headers=headers)


def test_outside_hours_through_the_api_in_italian_and_in_english(clinic, patient_api):
    start = saturday()
    italian_answer = book(patient_api, clinic, start, headers={"Accept-Language": "it-IT,it;q=0.9"})
    english_answer = book(patient_api, clinic, start, headers={"Accept-Language": "en"})
    assert italian_answer.status_code == english_answer.status_code == 422
    it, en = italian_answer.get_json()["error"], english_answer.get_json()["error"]
    assert it["code"] == en["code"] == "outside_hours"
    assert [p["code"] for p in it["problems"]] == [p["code"] for p in en["problems"]]
    expected = f"{italian(start)} è fuori dall'orario di lavoro dell'operatore; scegli un altro orario o un altro operatore."
    assert it["message"] == expected
    assert it["problems"][0]["message"] == expected
    assert italian(start).startswith("sab ")
    assert en["message"] == (f"Sat {start.day} {start:%b} 10:00 is outside the practitioner's working hours; "
                             "choose another time or another practitioner.")


def test_a_prep_window_in_italian_names_the_italian_day_the_code_stays(clinic, patient_api):
    soon = utcnow().astimezone(TZ).date() + timedelta(days=3)
    while soon.weekday() >= 5:
        soon += timedelta(days=1)
    response = book(patient_api, clinic, at(soon, 10), headers={"Accept-Language": "it"})
    assert response.status_code == 422
    problem = next(p for p in response.get_json()["error"]["problems"] if p["code"] == "prep_window")
    lead = "Stop aspirin and NSAIDs: servono 7 giorni prima della seduta; scegli un orario a partire da "
    assert problem["message"].startswith(lead)
    ready = problem["message"][len(lead):-1]
    day_name, _, month_name, _ = ready.split(" ")
    assert day_name in ("lun", "mar", "mer", "gio", "ven", "sab", "dom")
    assert month_name in ("gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic")
    english = book(patient_api, clinic, at(soon, 10))
    en_problem = next(p for p in english.get_json()["error"]["problems"] if p["code"] == "prep_window")
    assert en_problem["message"].startswith("Stop aspirin and NSAIDs needs 7 days before the session; choose a time from ")


def test_a_slot_taken_is_a_409_in_italian(clinic, client, patient_api):
    start = at(monday_in(3), 10)
    assert book(patient_api, clinic, start).status_code == 201
    other = Api(client, clinic.other_patient.email)
    response = book(other, clinic, start, treatment="consultation", headers={"Accept-Language": "it"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "slot_taken"
    assert error["message"] == f"L'operatore è già impegnato il {italian(start)}; scegli un altro orario."


def test_the_api_speaks_the_users_saved_language_unless_the_header_asks_for_another(clinic, patient_api):
    clinic.patient.locale = "it"
    db.session.commit()
    saved = book(patient_api, clinic, saturday()).get_json()["error"]["message"]
    asked = book(patient_api, clinic, saturday(), headers={"Accept-Language": "en"}).get_json()["error"]["message"]
    assert saved.endswith("è fuori dall'orario di lavoro dell'operatore; scegli un altro orario o un altro operatore.")
    assert asked.endswith("is outside the practitioner's working hours; choose another time or another practitioner.")


def test_the_apis_own_errors_are_in_italian_and_keep_their_codes(clinic, client, patient_api):
    missing = patient_api.post("/appointments", {"start": saturday().isoformat(), "practitioner_id": 1},
                               headers={"Accept-Language": "it"})
    assert missing.status_code == 400
    assert missing.get_json()["error"] == {"code": "invalid_input", "message": "Dati non validi. treatment è obbligatorio"}
    naive = patient_api.post("/appointments", {"treatment": "consultation", "start": "2030-01-07T10:00:00",
                                               "practitioner_id": 1}, headers={"Accept-Language": "it"})
    assert "start deve indicare il fuso orario" in naive.get_json()["error"]["message"]
    nowhere = client.get("/api/v1/nowhere", headers={"Accept-Language": "it"})
    assert nowhere.status_code == 404
    assert nowhere.get_json()["error"]["code"] == "not_found"
    assert nowhere.get_json()["error"]["message"].startswith("A questo indirizzo non c'è nulla")
    token = client.post("/api/v1/appointments", json={}, headers={"Authorization": "Bearer wrong",
                                                                   "Accept-Language": "it"})
    assert token.status_code == 401 and token.get_json()["error"]["code"] == "invalid_token"
    assert token.get_json()["error"]["message"].startswith("Il token manca")
    english = client.get("/api/v1/nowhere")
    assert english.get_json()["error"]["message"].startswith("There is nothing at this address")


def login(client, email):
    return client.post("/login", data={"email": email, "password": "password123"})


def series_page(client, clinic, start, lang):
    picked = client.get("/book/mesotherapy-face/pick",
                        query_string={"slot": f"{start.isoformat()}|{clinic.anna.id}", "lang": lang})
    return unescape(client.get(picked.headers["Location"]).get_data(as_text=True))


def test_the_booking_wizard_shows_a_broken_rule_in_the_readers_language(clinic, client):
    login(client, clinic.patient.email)
    start = saturday()
    page = series_page(client, clinic, start, "it")
    assert f"{italian(start)} è fuori dall'orario di lavoro dell'operatore" in page
    assert "outside the practitioner's working hours" not in page
    page = series_page(client, clinic, start, "en")
    assert f"Sat {start.day} {start:%b} 10:00 is outside the practitioner's working hours" in page


def test_a_refused_cancellation_is_flashed_in_italian(clinic, client):
    soon = book_consultation(clinic, clinic.patient, utcnow() + timedelta(hours=5), status="booked")
    clinic.patient.locale = "it"
    db.session.commit()
    login(client, clinic.patient.email)
    refused = client.post(f"/me/appointments/{soon.id}/cancel", data={}, follow_redirects=True)
    page = unescape(refused.get_data(as_text=True))
    cutoff = italian(soon.start_at - timedelta(hours=24))
    assert f"Modifiche e disdette si chiudono 24 ore prima dell'appuntamento (il {cutoff})" in page
    assert "Changes and cancellations close" not in page


def test_a_rule_message_in_any_page_template_is_translated_by_jinja(app):
    """Jinja's finalize (every ``{{ value }}``) and its ``join`` filter translate a Text."""
    from flask import render_template_string

    from booking.scheduling.problems import moment_label
    from booking.scheduling.text import N_

    start = at(monday_in(3), 10)
    message = N_("The clinic is closed at %(when)s; choose another time or another practitioner.",
                 when=moment_label(start, "Europe/Rome"))
    source = "{% for e in errors %}<p>{{ e }}</p>{% endfor %}{{ errors|join(' ') }}"
    with app.test_request_context("/?lang=it"):
        app.preprocess_request()
        italian_page = render_template_string(source, errors=[message])
    with app.test_request_context("/?lang=en"):
        app.preprocess_request()
        english_page = render_template_string(source, errors=[message])
    said = f"La clinica è chiusa il {italian(start)}; scegli un altro orario o un altro operatore."
    assert italian_page == f"<p>{said}</p>{said}"  # a form's errors|join(" ") too
    assert english_page == f"<p>{message}</p>{message}"


def test_a_plans_problems_and_a_wrong_method_are_in_italian(clinic, client, patient_api):
    start = saturday()
    plan = patient_api.post("/series/plan", {"treatment": "mesotherapy-face", "first_start": start.isoformat(),
                                             "practitioner_id": clinic.anna.id}, headers={"Accept-Language": "it"})
    assert plan.status_code == 200
    problems = plan.get_json()["problems"]
    assert problems and problems[0]["code"] == "outside_hours"
    assert problems[0]["message"].startswith(f"{italian(start)} è fuori dall'orario di lavoro")
    wrong = client.delete("/api/v1/treatments", headers={"Accept-Language": "it"})
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"
    assert wrong.get_json()["error"]["message"].startswith("Questo indirizzo non accetta questo metodo")


@pytest.mark.parametrize("headers,wanted", [
    ({"Accept-Language": "it"}, "Qualcosa è andato storto da parte nostra"),
    ({"Accept-Language": "en"}, "Something went wrong on our side; nothing was changed."),
])
def test_an_unexpected_error_is_said_in_the_readers_language(app, clinic, headers, wanted):
    def broken():
        raise RuntimeError("a bug")

    app.add_url_rule("/broken-page", view_func=broken)
    app.add_url_rule("/api/v1/broken", view_func=broken)
    client = app.test_client()
    page = client.get("/broken-page", headers=headers)
    assert page.status_code == 500 and wanted in unescape(page.get_data(as_text=True))
    answer = client.get("/api/v1/broken", headers=headers)
    assert answer.status_code == 500 and answer.json["error"]["code"] == "internal_error"
    assert wanted in answer.json["error"]["message"]


def test_an_aftercare_clash_names_the_body_area_in_the_readers_language(clinic, patient_api):
    peel = make_treatment(slug="peel-face", name="Peel", body_area="face", protocol=dict(sessions=1), prep=[])
    clinic.anna.treatments.append(peel)
    clinic.room.treatments.append(peel)
    db.session.commit()
    first = at(monday_in(3), 10)
    assert book(patient_api, clinic, first).status_code == 201
    later = first + timedelta(days=1)
    italian_answer = book(patient_api, clinic, later, treatment="peel-face", headers={"Accept-Language": "it"})
    english_answer = book(patient_api, clinic, later, treatment="peel-face", headers={"Accept-Language": "en"})
    it, en = italian_answer.get_json()["error"], english_answer.get_json()["error"]
    assert it["code"] == en["code"] == "aftercare_conflict"
    assert it["message"] == (f"Questa data cade entro 3 giorni dal tuo trattamento viso del {italian(first)}, "
                             "durante il post-trattamento; scegli una data più distante.")
    assert "your face appointment" in en["message"]


def test_moving_a_needed_consultation_says_its_days_as_a_real_plural(client, clinic):
    api = Api(client, clinic.other_patient.email)  # no consultation yet
    consultation = api.post("/appointments", {"treatment": "consultation", "practitioner_id": clinic.bruno.id,
                                              "start": at(monday_in(3), 9).isoformat()})
    assert consultation.status_code == 201, consultation.get_json()
    treatment_day = monday_in(3) + timedelta(days=3)
    assert book(api, clinic, at(treatment_day, 10)).status_code == 201
    later = {"start": at(treatment_day + timedelta(days=1), 9).isoformat()}
    path = f"/appointments/{consultation.get_json()['id']}"
    italian_answer = api.patch(path, later, headers={"Accept-Language": "it"})
    english_answer = api.patch(path, later, headers={"Accept-Language": "en"})
    assert italian_answer.status_code == english_answer.status_code == 422, italian_answer.get_json()
    assert "richiede questo consulto almeno 2 giorni prima e non più di 180 giorni prima" in \
        italian_answer.get_json()["error"]["message"]
    assert "needs this consultation at least 2 days before it" in english_answer.get_json()["error"]["message"]
