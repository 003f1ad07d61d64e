"""Issue 13, a reception week view that works: the feeds show only the practitioners chosen,
"next free time" on the booking page, only the actions that apply to an appointment (and the
services refuse the others), no rule codes on screen, phone-only patients said so."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Appointment, AuditEvent, Series, User
from booking.models.base import utcnow
from booking.scheduling.clock import local_date, local_day_bounds, to_local
from booking.services.availability import available_slots
from tests.integration.clinic import TZ, at, book_consultation, build_clinic, monday_in
from tests.integration.factories import make_practitioner, make_user
from tests.integration.test_reception import login

NO_EMAIL = "No e-mail: this patient gets no mail or invites"
RULE_CODE = re.compile(r"\b(slot_taken|patient_busy|consultation_required|interval_too_short|invalid_state|"
                       r"outside_hours|in_the_past|prep_window)\b")


@pytest.fixture
def clinic(app):
    return build_clinic()


def wall(moment) -> str:
    return to_local(moment, str(TZ)).strftime("%Y-%m-%dT%H:%M:%S")


def status_of(appointment_id: int) -> str:
    db.session.rollback()
    return db.session.get(Appointment, appointment_id).status


def test_the_feeds_and_the_page_show_only_the_chosen_practitioners(client, clinic):
    monday = monday_in(3)
    clara = make_practitioner(user=make_user(name="Clara Practitioner", role="practitioner"),
                              treatments=[clinic.consultation])
    db.session.commit()
    with_anna = book_consultation(clinic, clinic.patient, at(monday, 10), status="booked")
    with_anna.practitioner_id = clinic.anna.id
    with_bruno = book_consultation(clinic, clinic.other_patient, at(monday, 11), status="booked")
    db.session.commit()
    login(client, clinic.receptionist)
    span = f"start={monday}T00:00:00&end={monday + timedelta(days=7)}T00:00:00"
    anna, bruno = f"p{clinic.anna.id}", f"p{clinic.bruno.id}"

    def feeds(query: str):
        columns = client.get(f"/reception/api/resources?by=practitioner&{query}").get_json()
        events = client.get(f"/reception/api/events?by=practitioner&{span}&{query}").get_json()
        shaded = client.get(f"/reception/api/background?by=practitioner&{span}&{query}").get_json()
        return ([c["id"] for c in columns], {e["id"] for e in events if e.get("display") != "background"},
                {r for e in shaded for r in e["resourceIds"]})

    everyone = feeds("")
    assert everyone[0] == [anna, bruno, f"p{clara.id}"]
    assert everyone[1] == {str(with_anna.id), str(with_bruno.id)}
    assert feeds(f"p={clinic.anna.id}") == ([anna], {str(with_anna.id)}, {anna})
    assert feeds(f"p={clinic.anna.id}&p={clinic.bruno.id}") == (
        [anna, bruno], {str(with_anna.id), str(with_bruno.id)}, {anna, bruno})
    # Rooms as columns: only the chosen practitioners' appointments.
    rooms = client.get(f"/reception/api/events?by=room&{span}&p={clinic.bruno.id}").get_json()
    assert {e["id"] for e in rooms if e.get("display") != "background"} == {str(with_bruno.id)}
    # Unknown ids are ignored (nobody known left: everyone); what is not an id is a 400, never a 500.
    assert feeds(f"p={clinic.bruno.id}&p=987654")[0] == [bruno]
    assert feeds("p=987654")[0] == everyone[0]
    for bad in ("p=abc", "p=-1", "p=99999999999999999999", "p=1.5"):
        for feed in ("resources", "events", "background"):
            response = client.get(f"/reception/api/{feed}?by=practitioner&{span}&{bad}")
            assert response.status_code == 400, (feed, bad)
            assert response.get_json()["error"]["code"] == "bad_practitioner"
    # The page remembers the choice: the boxes, the feeds' filter, one practitioner's own week.
    page = client.get(f"/reception?p={clinic.anna.id}&p={clinic.bruno.id}&view=week").get_data(as_text=True)
    assert f'data-practitioners="{clinic.anna.id},{clinic.bruno.id}"' in page and 'data-single=""' in page
    assert re.search(rf'value="{clinic.anna.id}" id="show-p{clinic.anna.id}" checked', page)
    assert not re.search(rf'value="{clara.id}" id="show-p{clara.id}" checked', page)
    single = client.get(f"/reception?p={clinic.bruno.id}&view=week").get_data(as_text=True)
    assert f'data-single="{clinic.bruno.id}"' in single
    assert client.get("/reception?p=abc&p=99999999999999999999").status_code == 200


def test_next_free_time_fills_the_first_start_the_rules_allow(client, clinic):
    monday = monday_in(2)
    # Anna is taken 09:00-10:00 on Monday; Bruno is free all day.
    for hour, minute in ((9, 0), (9, 30)):
        taken = book_consultation(clinic, clinic.other_patient, at(monday, hour, minute), status="booked")
        taken.practitioner_id = clinic.anna.id
    db.session.commit()
    login(client, clinic.receptionist)
    form = {"patient_id": clinic.patient.id, "treatment": "consultation", "mode": "single",
            "start": f"{monday}T09:00", "practitioner": clinic.anna.id, "next_free": "Next free time"}
    response = client.post("/reception/book", data=form)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert f'value="{monday}T10:00"' in text  # Anna's first free start from the start given
    assert f"Next free time: {at(monday, 10):%a %d %b %Y}, 10:00 with Anna Practitioner" in text
    # The same answer as the availability service gives for that day.
    first = available_slots(None, treatment_slug="consultation", first_day=monday, last_day=monday,
                            practitioner_id=clinic.anna.id).slots[0]
    assert to_local(first.start, str(TZ)) == at(monday, 10)
    # With anyone: Bruno at 09:00, and the practitioner list follows.
    anyone = client.post("/reception/book", data={**form, "any_practitioner": "y"}).get_data(as_text=True)
    assert f'value="{monday}T09:00"' in anyone and "with Bruno Practitioner" in anyone
    assert re.search(rf'<option selected value="{clinic.bruno.id}">|<option value="{clinic.bruno.id}" selected>',
                     anyone)
    # No start given: from now on (never inside the minimum notice).
    now_on = client.post("/reception/book", data={**form, "start": ""}).get_data(as_text=True)
    field = re.search(r'<input[^>]*name="start"[^>]*>', now_on).group(0)
    filled = re.search(r'value="([^"]+)"', field).group(1)
    assert filled >= to_local(utcnow() + timedelta(hours=24), str(TZ)).strftime("%Y-%m-%dT%H:%M")
    # A series: the next free start of the first session, and the rest planned from it.
    book_consultation(clinic, clinic.patient, at(monday - timedelta(days=7), 10))
    series = client.post("/reception/book", data={**form, "treatment": "mesotherapy-face", "mode": "series"})
    text = series.get_data(as_text=True)
    assert series.status_code == 200 and text.count('name="sessions-') >= 8
    first_session = re.search(r'<input[^>]*name="sessions-0-start"[^>]*>', text).group(0)
    assert f'value="{monday}T10:00"' in first_session
    assert db.session.scalar(select(func.count()).select_from(Series)) == 0  # nothing booked yet
    # Bad input: a message, not a 500.
    bad = client.post("/reception/book", data={**form, "treatment": "nope"})
    assert bad.status_code == 400
    assert client.post("/reception/book", data={**form, "start": "31/02/2030"}).status_code == 400


def test_the_panel_offers_only_the_actions_that_apply_and_crafted_posts_are_refused(client, clinic):
    now = utcnow()
    today = local_day_bounds(local_date(now, str(TZ)), str(TZ))
    nine_days = book_consultation(clinic, clinic.patient, now + timedelta(days=9), status="booked")
    later_today = book_consultation(clinic, clinic.other_patient, now + (today.end - now) / 2, status="booked")
    yesterday = book_consultation(clinic, clinic.patient, now - timedelta(days=1, hours=1), status="booked")
    cancelled = book_consultation(clinic, clinic.other_patient, now + timedelta(days=4), status="cancelled")
    completed = book_consultation(clinic, clinic.other_patient, now - timedelta(days=3), status="completed")
    login(client, clinic.receptionist)

    def offered(appointment) -> set[str]:
        html = client.get(f"/reception/appointments/{appointment.id}?partial=1").get_data(as_text=True)
        words = {"Check in": ">Check in<", "Complete": ">Complete<", "No-show": ">No-show<",
                 "Move": "<summary>Move…</summary>", "Cancel": "<summary>Cancel…</summary>",
                 "Resend": ">Resend invite<"}
        return {name for name, marker in words.items() if marker in html}

    assert offered(nine_days) == {"Move", "Cancel", "Resend"}
    assert offered(later_today) == {"Check in", "Move", "Cancel", "Resend"}
    assert offered(yesterday) == {"Complete", "No-show", "Move"}
    assert offered(cancelled) == set()
    assert offered(completed) == set()

    def refused(path: str, data: dict, words: str, row) -> None:
        """A refused move is the panel again with its problems (409); a refused status change or
        cancel goes back where the panel was opened, with the message (booking.web.refusals)."""
        before = status_of(row.id)
        response = client.post(f"/reception/appointments/{row.id}/{path}", data=data)
        if path == "move":
            assert response.status_code == 409, (path, data, response.status_code)
            text = response.get_data(as_text=True)
        else:
            assert response.status_code == 302, (path, data, response.status_code)
            text = client.get(response.headers["Location"]).get_data(as_text=True)
        assert words in text and "Traceback" not in text
        assert status_of(row.id) == before

    refused("status", {"action": "check_in"}, "only on the day of the appointment", nine_days)
    refused("status", {"action": "no_show"}, "only once it has started", nine_days)
    refused("status", {"action": "complete"}, "only once it has started", later_today)
    refused("status", {"action": "check_in"}, "only on the day of the appointment", yesterday)
    refused("cancel", {"reason": "Phoned"}, "This appointment is over", yesterday)
    refused("cancel", {"reason": "Phoned"}, "it cannot be cancelled", cancelled)
    refused("cancel", {"reason": "Phoned"}, "it cannot be cancelled", completed)
    refused("move", {"start": "2030-01-07T10:00", "practitioner": clinic.anna.id}, "it cannot be moved", completed)
    refused("status", {"action": "no_show"}, "cannot be marked no show", completed)
    # The drag's JSON answer says the same, with a 409.
    response = client.post(f"/reception/api/appointments/{cancelled.id}/move", json={"start": "2030-01-07T10:00:00"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "invalid_state"
    assert "cannot be moved" in response.get_json()["error"]["message"]
    # Resending to a cancelled appointment: refused, nothing queued (a message, never a 500).
    resend = client.post(f"/reception/appointments/{cancelled.id}/resend", follow_redirects=True)
    assert "there is no invite to send" in resend.get_data(as_text=True)
    # What applies is done.
    done = client.post(f"/reception/appointments/{later_today.id}/status", data={"action": "check_in"})
    assert done.status_code == 302 and status_of(later_today.id) == "checked_in"
    assert client.post(f"/reception/appointments/{yesterday.id}/status",
                       data={"action": "no_show"}).status_code == 302
    assert status_of(yesterday.id) == "no_show"
    assert [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action.startswith("appointment.")] == ["appointment.checked_in", "appointment.no_show"]
    # An appointment that does not exist: the 404 page.
    assert client.post("/reception/appointments/987654/cancel", data={"reason": "x"}).status_code == 404


def test_no_rule_codes_on_reception_screens(client, clinic):
    monday = monday_in(3)
    taken = book_consultation(clinic, clinic.other_patient, at(monday, 10), status="booked")
    login(client, clinic.receptionist)
    form = {"patient_id": clinic.patient.id, "treatment": "consultation", "mode": "single",
            "start": f"{monday}T10:00", "practitioner": clinic.bruno.id, "book": "Book"}
    refused = client.post("/reception/book", data=form)
    assert refused.status_code in (409, 422)
    text = refused.get_data(as_text=True)
    assert "already" in text and not RULE_CODE.search(text), RULE_CODE.search(text)
    # A refused move from the panel: the flashed words, no codes.
    mine = book_consultation(clinic, clinic.patient, at(monday, 11), status="booked")
    moved = client.post(f"/reception/appointments/{mine.id}/move",
                        data={"start": f"{monday}T10:00", "practitioner": clinic.bruno.id, "override_reason": "x"})
    assert moved.status_code in (409, 422)
    text = moved.get_data(as_text=True)
    assert "Not done:" in text and not RULE_CODE.search(text), RULE_CODE.search(text)
    # A series plan with problems: words only.
    planned = client.post("/reception/book", data={**form, "treatment": "mesotherapy-face", "mode": "series",
                                                   "plan": "Plan the series"})
    text = planned.get_data(as_text=True)
    assert "needs a consultation first" in text and not RULE_CODE.search(text), RULE_CODE.search(text)
    for path in ("/reception", f"/reception/appointments/{taken.id}", f"/reception/day-sheet?date={monday}"):
        assert not RULE_CODE.search(client.get(path).get_data(as_text=True)), path


def test_a_phone_only_patient_is_said_to_get_no_mail_on_every_reception_screen(client, clinic):
    login(client, clinic.receptionist)
    added = client.post("/reception/patients", data={"name": "Piero Telefono", "email": "", "phone": "+39 333 1112223"},
                        follow_redirects=True)
    assert NO_EMAIL in added.get_data(as_text=True)
    piero = db.session.scalars(select(User).where(User.name == "Piero Telefono")).one()
    found = client.get("/reception/book?q=telefono").get_data(as_text=True)
    assert "Book for Piero Telefono" in found and NO_EMAIL in found and "None" not in found
    # Someone with an address is listed with it.
    assert "paola@example.com" in client.get("/reception/book?q=paola").get_data(as_text=True)
    booking = client.get(f"/reception/book?patient={piero.id}").get_data(as_text=True)
    assert NO_EMAIL in booking and "None" not in booking
    appointment = book_consultation(clinic, piero, at(monday_in(3), 10), status="booked")
    for path in (f"/reception/appointments/{appointment.id}", f"/reception/appointments/{appointment.id}?partial=1"):
        panel = client.get(path).get_data(as_text=True)
        assert NO_EMAIL in panel and "None" not in panel and "mailto:" not in panel
        assert "Resend invite" not in panel and "Cancel…" in panel
    refused = client.post(f"/reception/appointments/{appointment.id}/resend", follow_redirects=True)
    assert "no e-mail address" in refused.get_data(as_text=True)
    cancelled = client.post(f"/reception/appointments/{appointment.id}/cancel", data={"reason": "Phoned: flu"},
                            follow_redirects=True)
    assert NO_EMAIL in cancelled.get_data(as_text=True)
    assert "gets the cancellation by e-mail" not in cancelled.get_data(as_text=True)
