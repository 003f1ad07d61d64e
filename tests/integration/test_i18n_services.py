"""Issue 16: what the booking, reception, re-planning, waitlist, offer and calendar services say
(refusals, reasons, labels) comes out in the request's language: Italian for an Italian request,
English for an English one, and English outside a request (mail workers, commands, tests of the
services themselves)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from booking.extensions import db
from booking.models import Appointment
from booking.models.base import utcnow
from booking.services import booking as booking_service
from booking.services import changes, holds, reception, replanning, schedule_admin
from booking.services.actor import Actor
from booking.services.booking import SessionRequest
from booking.services.errors import ServiceError
from booking.web.reception import replan_routes
from tests.integration.clinic import PASSWORD, TZ, at, book_consultation, build_clinic, monday_in, token_for


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, user) -> None:
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def text(response) -> str:
    """The page's visible words (tags removed, entities decoded, whitespace collapsed)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def face_series(clinic, first):
    """Paola's four face sessions with Anna from ``first`` (her consultation a week before)."""
    book_consultation(clinic, clinic.patient, first - timedelta(days=7))
    sessions = [SessionRequest(first + timedelta(days=14 * i), clinic.anna.id) for i in range(4)]
    return booking_service.book_series(Actor.of(clinic.receptionist), treatment_slug="mesotherapy-face",
                                       sessions=sessions, patient_id=clinic.patient.id)


# --- reception -------------------------------------------------------------------------------
def test_a_check_in_before_the_day_is_refused_on_the_panel_in_the_receptionists_language(client, clinic):
    future = book_consultation(clinic, clinic.other_patient, utcnow() + timedelta(days=3), status="booked")
    login(client, clinic.receptionist)
    italian = client.post(f"/reception/appointments/{future.id}/status?lang=it", data={"action": "check_in"},
                          follow_redirects=True)
    assert "L’arrivo si può registrare solo nel giorno dell’appuntamento (ora della clinica)." in text(italian)
    assert "only on the day" not in text(italian)
    english = client.post(f"/reception/appointments/{future.id}/status?lang=en", data={"action": "check_in"},
                          follow_redirects=True)
    assert ("An appointment can be marked checked in only on the day of the appointment (clinic time)."
            in text(english))
    db.session.rollback()
    assert db.session.get(Appointment, future.id).status == "booked"


def test_a_drag_of_a_cancelled_appointment_is_refused_with_its_status_in_the_language(client, clinic):
    first = at(monday_in(3), 10)
    series = face_series(clinic, first)
    second = series.appointments[1]
    changes.cancel(Actor.of(clinic.receptionist), second.id, reason="Patient asked")
    login(client, clinic.receptionist)
    target = {"start": (first + timedelta(days=15)).strftime("%Y-%m-%dT%H:%M:%S")}
    italian = client.post(f"/reception/api/appointments/{second.id}/move?lang=it", json=target)
    assert italian.status_code == 409
    assert italian.get_json()["error"]["code"] == "invalid_state"  # the code stays English
    assert italian.get_json()["error"]["message"] == "Stato dell’appuntamento: annullato; non si può spostare."
    english = client.post(f"/reception/api/appointments/{second.id}/move?lang=en", json=target)
    assert english.get_json()["error"]["message"] == "This appointment is cancelled; it cannot be moved."


def test_the_calendar_columns_and_shaded_time_are_labelled_in_the_language(client, clinic):
    login(client, clinic.receptionist)
    week = monday_in(2)
    span = f"start={week}T00:00:00&end={week + timedelta(days=7)}T00:00:00"
    rooms = client.get("/reception/api/resources?by=room&lang=it").get_json()
    assert rooms[-1] == {"id": "r0", "title": "Nessuna stanza"}
    shaded = client.get(f"/reception/api/background?by=practitioner&{span}&lang=it").get_json()
    assert {e["title"] for e in shaded if e["extendedProps"]["kind"] == "break"} == {"Pausa"}
    assert client.get("/reception/api/resources?by=room&lang=en").get_json()[-1]["title"] == "No room"
    shaded = client.get(f"/reception/api/background?by=practitioner&{span}&lang=en").get_json()
    assert {e["title"] for e in shaded if e["extendedProps"]["kind"] == "break"} == {"Break"}
    # A held time's label says until when it is held.
    hold = holds.create_hold(Actor.of(clinic.receptionist), treatment_slug="consultation", start=at(week, 10),
                             practitioner_id=clinic.anna.id, patient_id=clinic.patient.id, minutes=60)
    until = hold.hold_expires_at.astimezone(TZ).strftime("%H:%M")
    titles = {lang: next(e["title"] for e in client.get(f"/reception/api/events?by=practitioner&{span}&lang={lang}")
                         .get_json() if e["id"] == str(hold.id)) for lang in ("it", "en")}
    assert titles["it"].endswith(f" · riservato fino alle {until}")
    assert titles["en"].endswith(f" · held until {until}")


# --- the patient portal ----------------------------------------------------------------------
def test_a_patient_asking_to_rebook_a_booked_session_is_told_why_in_their_language(client, clinic):
    series = face_series(clinic, at(monday_in(3), 10))
    booked = series.appointments[1]
    login(client, clinic.patient)
    italian = client.get(f"/me/appointments/{booked.id}/rebook?lang=it")
    assert italian.status_code == 409
    assert "Si può prenotare di nuovo solo una seduta di un ciclo annullata o saltata." in text(italian)
    english = client.get(f"/me/appointments/{booked.id}/rebook?lang=en")
    assert english.status_code == 409
    assert "Only a cancelled or missed session of a series can be booked again." in text(english)


def test_the_waitlist_form_says_what_is_wrong_in_the_patients_language(client, clinic):
    login(client, clinic.patient)
    wrong = {"treatment": "consultation", "from_time": "12:00", "to_time": "09:00"}
    italian = client.post("/me/waitlist/new?lang=it", data=wrong)
    assert italian.status_code == 400
    assert "La prima ora accettabile deve venire prima dell’ultima." in text(italian)
    english = client.post("/me/waitlist/new?lang=en", data=wrong)
    assert english.status_code == 400
    assert "The earliest time of day must come before the latest." in text(english)


def test_an_unknown_offer_link_is_explained_in_the_visitors_language(client, clinic):
    italian = client.get("/offers/not-a-real-secret?lang=it")
    assert italian.status_code == 404 and "Questo link dell’offerta non è valido." in text(italian)
    english = client.get("/offers/not-a-real-secret?lang=en")
    assert english.status_code == 404 and "This offer link is not valid." in text(english)


# --- re-planning -----------------------------------------------------------------------------
def test_the_replanning_page_says_why_there_is_no_proposal_in_the_language(client, clinic):
    monday = monday_in(3)
    series = face_series(clinic, at(monday, 11))
    second_day = series.appointments[1].start_at.astimezone(TZ).date()
    for person in (clinic.anna, clinic.bruno):  # no one works in the second session's whole window
        schedule_admin.add_time_off(Actor.of(clinic.admin), person.id, start=at(monday + timedelta(days=9), 0),
                                    end=at(monday + timedelta(days=22), 0), reason="Congress")
    login(client, clinic.receptionist)
    url = f"/reception/replan?first_day={second_day}&last_day={second_day}"
    italian = text(client.get(url + "&lang=it"))
    found = re.search(r"Nessun orario libero consentito dalle regole nella sua finestra, da (\w+) \d\d (\w+)", italian)
    assert found, italian
    assert found.group(1) in {"lun", "mar", "mer", "gio", "ven", "sab", "dom"}  # Babel's Italian day names
    assert "No free time" not in italian
    english = text(client.get(url + "&lang=en"))
    assert re.search(r"No free time the rules allow inside its window from (Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d ",
                     english)


def test_apply_all_refused_names_the_appointment_in_the_language(client, clinic):
    monday = monday_in(3)
    booked = [booking_service.book_appointment(Actor.of(clinic.receptionist), treatment_slug="consultation",
                                               start=at(monday + timedelta(days=day), 9),
                                               practitioner_id=clinic.anna.id, patient_id=clinic.other_patient.id)
              for day in (0, 1)]
    schedule_admin.add_time_off(Actor.of(clinic.admin), clinic.anna.id, start=at(monday, 0),
                                end=at(monday + timedelta(days=2), 0), reason="Ill")
    found = replanning.proposals(Actor.of(clinic.receptionist), practitioner_id=clinic.anna.id)
    assert {p.appointment.id for p in found} == {a.id for a in booked}
    last = found[-1]
    # Someone takes the last proposal's time meanwhile: a conflict, so nothing may move.
    booking_service.book_appointment(Actor.of(clinic.receptionist), treatment_slug="consultation",
                                     start=last.best.start, practitioner_id=last.best.practitioner_id,
                                     patient_id=clinic.patient.id)
    login(client, clinic.receptionist)
    form = {"reason": "Anna is ill", **{f"choice-{p.appointment.id}": replan_routes.slot_value(p.best) for p in found}}
    italian = client.post("/reception/replan/apply?lang=it", data=form)
    assert italian.status_code == 409
    assert re.search(r"Non è stato spostato nulla: Consultation di Otto Other del (lun|mar) \d\d \w+ \d\d:\d\d "
                     r"non si può spostare lì\.", text(italian)), text(italian)
    english = client.post("/reception/replan/apply?lang=en", data=form)
    assert english.status_code == 409
    assert re.search(r"Nothing was moved: Otto Other's Consultation on (Mon|Tue) \d\d \w+ \d\d:\d\d cannot move "
                     r"there\.", text(english)), text(english)
    db.session.rollback()
    assert [db.session.get(Appointment, a.id).start_at for a in booked] == [a.start_at for a in booked]


# --- the JSON API ------------------------------------------------------------------------------
def test_the_api_refuses_a_hold_in_the_language_asked_and_keeps_the_code(client, clinic):
    headers = {"Authorization": f"Bearer {token_for(client, clinic.receptionist.email)}"}
    body = {"treatment": "consultation", "start": at(monday_in(2), 10).isoformat(),
            "practitioner_id": 999999, "patient_id": clinic.patient.id}
    italian = client.post("/api/v1/holds", json=body, headers={**headers, "Accept-Language": "it"})
    assert italian.status_code == 400
    assert italian.get_json()["error"]["code"] == "unknown_practitioner"
    assert italian.get_json()["error"]["message"] == (
        "Non esiste un operatore con id 999999; vedi GET /api/v1/practitioners.")
    english = client.post("/api/v1/holds", json=body, headers={**headers, "Accept-Language": "en"})
    assert english.get_json()["error"]["message"] == (
        "There is no practitioner with id 999999; see GET /api/v1/practitioners.")


# --- outside a request -----------------------------------------------------------------------
def test_outside_a_request_the_services_speak_english_and_inside_the_requests_language(app, clinic):
    future = book_consultation(clinic, clinic.other_patient, utcnow() + timedelta(days=3), status="booked")
    db.session.commit()
    assert reception.why_not(future, "no_show") == "An appointment can be marked no show only once it has started."
    with pytest.raises(ServiceError) as refused:
        reception.require_applicable(Actor.of(clinic.practitioner_user), future.id, "move")
    assert refused.value.message == "Only reception and administrators can do this."
    with app.test_request_context("/?lang=it"):
        app.preprocess_request()  # the before-request hooks, where the language is chosen
        assert reception.why_not(future, "no_show") == (
            "Un paziente si può segnare come assente solo dopo l’inizio dell’appuntamento.")
        with pytest.raises(ServiceError) as refused:
            reception.require_applicable(Actor.of(clinic.practitioner_user), future.id, "move")
        assert refused.value.message == "Solo la reception e gli amministratori possono farlo."
