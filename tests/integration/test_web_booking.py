"""The patient's booking wizard and portal through real forms (no JavaScript needed)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Appointment, AuditEvent, Intake, OutboxMessage, Series, User
from booking.models.base import utcnow
from tests.integration.clinic import PASSWORD, TZ, at, book_consultation, build_clinic, monday_in


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def links(response, pattern: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]*%s[^"]*)"' % pattern, response.get_data(as_text=True))]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_new_visitor_is_led_to_the_consultation_first(client, clinic):
    response = client.get("/book/mesotherapy-face")
    assert response.status_code == 302 and "/book/consultation?then=mesotherapy-face" in response.headers["Location"]
    page = client.get(response.headers["Location"], follow_redirects=True)
    assert "starts with a consultation" in text(page)


def test_new_patient_books_a_consultation_end_to_end(client, clinic):
    day = monday_in(2)
    page = client.get(f"/book/consultation?month={day:%Y-%m}&day={day.isoformat()}&then=mesotherapy-face")
    assert "Europe/Rome" in text(page)
    times = links(page, "/book/consultation/pick")
    assert times, "free times are offered"
    chosen = client.get(times[0])
    assert chosen.headers["Location"].endswith("/book/review")
    to_register = client.get("/book/review")
    assert "/register" in to_register.headers["Location"]
    registered = client.post("/register?next=/book/review", data={
        "name": "Nina New", "email": "nina@example.com", "phone": "+39 333 1234567",
        "password": "long-enough-pw", "confirm": "long-enough-pw", "next": "/book/review"})
    assert registered.headers["Location"] == "/book/review"
    # A consultation lists no contraindications, so no questionnaire first (test_api_intake.py).
    review = client.get("/book/review")
    assert "Confirm your booking" in text(review) and "Europe/Rome" in text(review)
    booked = client.post("/book/review", data={})
    assert "/book/done?appointment=" in booked.headers["Location"]
    done = client.get(booked.headers["Location"])
    assert "You are booked" in text(done) and "Next: your Mesotherapy, face series" in text(done)
    nina = db.session.scalar(select(User).where(User.email == "nina@example.com"))
    assert db.session.scalar(select(Appointment.patient_id)) == nina.id


def test_a_known_patient_books_a_whole_series_with_a_changed_session_and_a_date_kept_clear(client, clinic):
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    login(client, clinic.patient.email)
    first = at(monday_in(3), 10)
    picked = client.get("/book/mesotherapy-face/pick", query_string={"slot": f"{first.isoformat()}|{clinic.anna.id}"})
    series_page = client.get(picked.headers["Location"])
    page = text(series_page)
    assert page.count("14 days") == 3 and "Stop aspirin and NSAIDs" in page
    # Change session 3 to another offered time; session 4 follows it.
    change_links = links(series_page, "/series/change/2")
    alternatives = client.get(change_links[0])
    # The change page is a day picker limited to the session's window: take its last day's last time.
    last_day = links(alternatives, "/series/change/2?")[-1]
    options = links(client.get(last_day), "replan=2")
    assert options
    changed = client.get(options[-1])
    assert changed.status_code == 200
    # Keep a wedding clear: a date just after session 2.
    sessions = re.findall(r'name="s" value="([^"]+)"', changed.get_data(as_text=True))
    wedding = (first + timedelta(days=15)).astimezone(TZ).date()
    replanned = client.get("/book/mesotherapy-face/series", query_string=[("s", unescape(s)) for s in sessions]
                           + [("keep_clear", wedding.isoformat())])
    assert wedding.strftime("%d %b %Y") in text(replanned)
    hidden = re.search(r'name="sessions" type="hidden" value="([^"]+)"', replanned.get_data(as_text=True)).group(1)
    not_read = client.post("/book/mesotherapy-face/series", data={"sessions": unescape(hidden), "avoid": wedding.isoformat()})
    assert "Please confirm you have read the prep steps." in text(not_read)
    chosen = client.post("/book/mesotherapy-face/series", data={"sessions": unescape(hidden), "prep_read": "y",
                                                                "avoid": wedding.isoformat()})
    assert chosen.headers["Location"].endswith("/book/review")
    booked = client.post("/book/review", data={})
    assert "/book/done?series=" in booked.headers["Location"], text(client.get("/book/review"))
    series = db.session.scalar(select(Series))
    starts = [a.start_at for a in series.appointments]
    assert len(starts) == 4
    assert all(abs((s.astimezone(TZ).date() - wedding).days) > 3 or s.astimezone(TZ).date() > wedding for s in starts)
    assert all(a.prep_acknowledged_at is not None for a in series.appointments)
    done = text(client.get(booked.headers["Location"]))
    assert done.count("Add to calendar") == 4


def _series_state(response):
    """(session starts as clinic-local datetimes, {prep text: [local dates]}) of a series page."""
    body = response.get_data(as_text=True)
    hidden = unescape(re.search(r'name="sessions" type="hidden" value="([^"]+)"', body).group(1))
    starts = [datetime.fromisoformat(part.split("|")[0]).astimezone(TZ) for part in hidden.split(",")]
    prep: dict[str, list[str]] = {}
    for day, what in re.findall(r'<li class="tl-prep">\s*<span class="tl-date">([^<]+)</span>\s*'
                                r'<span class="tl-text">([^<]+)</span>', body):
        prep.setdefault(unescape(what), []).append(day)
    return starts, prep


def test_keeping_a_date_clear_keeps_the_patients_changed_session_and_moves_prep_off_it(client, clinic):
    """Issue 13 bug 1: change session 2, keep a date clear, re-plan: session 2 stays where the
    patient put it; a session whose "No alcohol" (24 h before) would fall on the date moves;
    the date can be removed again."""
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    login(client, clinic.patient.email)
    first = at(monday_in(3), 10)
    d = lambda n: first.date() + timedelta(days=n)  # noqa: E731
    picked = client.get("/book/mesotherapy-face/pick", query_string={"slot": f"{first.isoformat()}|{clinic.anna.id}"})
    proposed = client.get(picked.headers["Location"])
    starts, _ = _series_state(proposed)
    assert [s.date() for s in starts[:2]] == [d(0), d(14)]
    # The patient moves session 2 from day 14 to day 18.
    alternatives = client.get(links(proposed, "/series/change/1")[0])
    day_18 = [o for o in links(alternatives, "/series/change/1?") if f"day={d(18).isoformat()}" in o]
    options = links(client.get(day_18[0]), "replan=1")
    assert options
    changed = client.get(options[0])
    starts, _ = _series_state(changed)
    assert starts[1].date() == d(18)
    # Keep day 13 clear and re-plan: session 2 still fits (it is not within three days before
    # day 13, nor does a prep step fall due on it), so it stays where the patient put it.
    sessions = [unescape(v) for v in re.findall(r'name="s" value="([^"]+)"', changed.get_data(as_text=True))]
    kept = client.get("/book/mesotherapy-face/series",
                      query_string=[("s", v) for v in sessions] + [("avoid", ""), ("keep_clear", d(13).isoformat())])
    assert kept.status_code == 200
    after, prep = _series_state(kept)
    assert after[:2] == starts[:2]
    label = d(13).strftime("%a %d %b")
    assert all(label not in days for days in prep.values()), prep
    assert d(13).strftime("%d %b %Y") in text(kept)
    # From the planner's own proposal (session 2 on day 14, "No alcohol" due on day 13), the same
    # date moves session 2 off it; session 1 stays.
    sessions = [unescape(v) for v in re.findall(r'name="s" value="([^"]+)"', proposed.get_data(as_text=True))]
    moved = client.get("/book/mesotherapy-face/series",
                       query_string=[("s", v) for v in sessions] + [("keep_clear", d(13).isoformat())])
    after, prep = _series_state(moved)
    assert after[0] == first and after[1].date() not in (d(10), d(11), d(12), d(13), d(14))
    assert all(label not in days for days in prep.values()), prep
    assert all(day_ not in {d(13)} for day_ in (s.date() for s in after))
    # The date kept clear can be removed: the sessions chosen stay, the date is gone.
    remove = links(kept, "avoid_changed=1")
    assert len(remove) == 1
    cleared = client.get(remove[0])
    assert cleared.status_code == 200
    assert d(13).strftime("%d %b %Y") not in text(cleared)
    assert _series_state(cleared)[0] == _series_state(kept)[0]
    assert 'name="avoid" type="hidden" value=""' in cleared.get_data(as_text=True)


def test_a_slot_taken_meanwhile_is_named_with_alternatives_and_nothing_is_half_booked(client, clinic):
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    login(client, clinic.patient.email)
    first = at(monday_in(3), 10)
    picked = client.get("/book/mesotherapy-face/pick", query_string={"slot": f"{first.isoformat()}|{clinic.anna.id}"})
    series_page = client.get(picked.headers["Location"])
    hidden = unescape(re.search(r'name="sessions" type="hidden" value="([^"]+)"',
                                series_page.get_data(as_text=True)).group(1))
    client.post("/book/mesotherapy-face/series", data={"sessions": hidden, "prep_read": "y"})
    # Someone else takes session 2's time before the patient confirms.
    second_start = hidden.split(",")[1].split("|")[0]
    from datetime import datetime

    taken = Appointment(patient_id=clinic.other_patient.id, practitioner_id=clinic.anna.id, room_id=clinic.room.id,
                        treatment_id=clinic.consultation.id, status="booked")
    taken.place(datetime.fromisoformat(second_start), 30, 0, 0)
    db.session.add(taken)
    db.session.commit()
    refused = client.post("/book/review", data={})
    assert refused.status_code == 200
    assert "Not booked" in text(refused) and "Session 2" in text(refused)
    assert count(Series) == 0 and count(Appointment) == 2
    options = links(refused, "/book/review/replace/1")
    assert options
    client.get(options[0])
    booked = client.post("/book/review", data={})
    assert "/book/done?series=" in booked.headers["Location"]
    assert count(Series) == 1


def test_a_contraindicated_patient_is_stopped_and_can_request_a_call(client, clinic):
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    intake = db.session.scalar(select(Intake).where(Intake.patient_id == clinic.patient.id))
    intake.answers = {"pregnant": True}
    db.session.commit()
    login(client, clinic.patient.email)
    first = at(monday_in(3), 10)
    page = client.get("/book/mesotherapy-face/series", query_string={"s": f"{first.isoformat()}|{clinic.anna.id}"})
    hidden = unescape(re.search(r'name="sessions" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1))
    client.post("/book/mesotherapy-face/series", data={"sessions": hidden, "prep_read": "y"})
    stop = client.get("/book/review")
    assert "cannot be booked online" in text(stop) and "Are you pregnant" in text(stop)
    client.post("/book/callback", data={"note": "Please call after 5pm"})
    assert count(Appointment) == 1
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "patient.callback"))
    assert "Paola Patient" in message.subject and "after 5pm" in message.body_text


def test_a_prep_violating_time_is_not_offered(client, clinic):
    book_consultation(clinic, clinic.patient, utcnow() - timedelta(days=10))
    login(client, clinic.patient.email)
    today = utcnow().astimezone(TZ).date()
    soon = today + timedelta(days=3)
    while soon.weekday() >= 5:
        soon += timedelta(days=1)
    page = client.get(f"/book/mesotherapy-face?month={soon:%Y-%m}&day={soon.isoformat()}")
    assert links(page, "/book/mesotherapy-face/pick") == []
    assert f'title="{soon:%A} {soon.day} {soon:%B}: no free times"' in page.get_data(as_text=True)


# --- forms: every bad input gets a message and writes nothing --------------------------------
@pytest.mark.parametrize("data, message", [
    ({"name": "", "email": "x@example.com", "phone": "+39 1234567", "password": "long-enough", "confirm": "long-enough"},
     "This field is required."),
    ({"name": "Ann", "email": "not-an-email", "phone": "+39 1234567", "password": "long-enough", "confirm": "long-enough"},
     "Invalid email address."),
    ({"name": "Ann", "email": "a@example.com", "phone": "call me", "password": "long-enough", "confirm": "long-enough"},
     "Use digits, spaces and + - ( ) only."),
    ({"name": "Ann", "email": "a@example.com", "phone": "+39 1234567", "password": "short", "confirm": "short"},
     "Use at least 8 characters."),
    ({"name": "Ann", "email": "a@example.com", "phone": "+39 1234567", "password": "long-enough", "confirm": "other-one"},
     "The two passwords differ."),
])
def test_registration_rejects_bad_input(client, clinic, data, message):
    before = count(User)
    response = client.post("/register", data=data)
    assert response.status_code == 200
    assert message in text(response)
    assert count(User) == before


def test_intake_needs_confirmation(client, clinic):
    login(client, clinic.other_patient.email)
    db.session.execute(Intake.__table__.delete())
    db.session.commit()
    response = client.post("/me/intake", data={"q_pregnant": "y"})
    assert "Please confirm your answers." in text(response)
    assert count(Intake) == 0


def test_damaged_wizard_links_are_a_clear_400(client, clinic):
    assert client.get("/book/consultation/pick?slot=garbage").status_code == 400
    assert client.get("/book/mesotherapy-face/series?s=2030-01-01T10:00|x").status_code == 400
    assert client.get("/book/no-such-treatment").status_code == 404


# --- portal -------------------------------------------------------------------------------
def _book_series(client, clinic):
    from tests.integration.clinic import Api

    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    api = Api(client, clinic.patient.email)
    starts = [at(monday_in(3) + timedelta(days=14 * i), 10) for i in range(4)]
    response = api.post("/series", {"treatment": "mesotherapy-face", "sessions": [
        {"start": s.isoformat(), "practitioner_id": clinic.anna.id} for s in starts]})
    assert response.status_code == 201
    return response.get_json()["appointments"]


def test_portal_shows_series_progress_and_reschedules_within_the_window(client, clinic):
    sessions = _book_series(client, clinic)
    first = db.session.get(Appointment, sessions[0]["id"])
    first.status = "completed"
    db.session.commit()
    login(client, clinic.patient.email)
    page = text(client.get("/me"))
    assert "Mesotherapy, face</strong>: 1 of 4 done" in page
    options_page = client.get(f"/me/appointments/{sessions[1]['id']}/reschedule")
    values = re.findall(r'name="slot" value="([^"]+)"', options_page.get_data(as_text=True))
    assert values
    from datetime import datetime

    prev = datetime.fromisoformat(sessions[0]["start"]).astimezone(TZ).date()
    nxt = datetime.fromisoformat(sessions[2]["start"]).astimezone(TZ).date()
    for value in values:
        day = datetime.fromisoformat(unescape(value).split("|")[0]).astimezone(TZ).date()
        assert 10 <= (day - prev).days <= 21 and 10 <= (nxt - day).days <= 21
    moved = client.post(f"/me/appointments/{sessions[1]['id']}/reschedule", data={"slot": unescape(values[0])})
    assert moved.headers["Location"].endswith("/me")
    row = db.session.get(Appointment, sessions[1]["id"])
    db.session.refresh(row)
    assert row.start_at == datetime.fromisoformat(unescape(values[0]).split("|")[0])


def test_portal_cancels_the_rest_of_a_series(client, clinic):
    sessions = _book_series(client, clinic)
    login(client, clinic.patient.email)
    client.post(f"/me/appointments/{sessions[2]['id']}/cancel", data={"rest_of_series": "yes", "reason": "moving"})
    statuses = [db.session.get(Appointment, s["id"]).status for s in sessions]
    assert statuses == ["booked", "booked", "cancelled", "cancelled"]


def test_changes_inside_the_cutoff_are_refused_with_the_clinic_phone(client, clinic):
    soon = book_consultation(clinic, clinic.patient, utcnow() + timedelta(hours=5), status="booked")
    login(client, clinic.patient.email)
    assert "Changes closed: call" in text(client.get("/me"))
    page = text(client.get(f"/me/appointments/{soon.id}/cancel"))
    assert "Cancellations close 24 hours before" in page and "+39 06 000" in page
    client.post(f"/me/appointments/{soon.id}/cancel", data={})
    db.session.refresh(soon)
    assert soon.status == "booked"


def test_my_data_and_delete_my_account(client, clinic):
    _book_series(client, clinic)
    login(client, clinic.patient.email)
    data = json.loads(client.get("/me/data.json").data)
    assert data["account"]["email"] == clinic.patient.email
    assert len(data["appointments"]) == 5 and data["health_questionnaire"]["answers"]["pregnant"] is False
    client.post("/me/delete", data={})
    db.session.refresh(clinic.patient)
    assert clinic.patient.erasure_requested_at is not None
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.erasure_requested"))


def test_password_reset_by_email_link(client, clinic):
    client.post("/reset", data={"email": clinic.patient.email})
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "password.reset"))
    link = re.search(r"(/reset/\S+)", message.body_text).group(1)
    client.post(link, data={"password": "brand-new-pass", "confirm": "brand-new-pass"})
    assert login(client, clinic.patient.email, "brand-new-pass").headers["Location"] == "/me"
    client.post("/logout")
    reused = client.post(link, data={"password": "another-pass-1", "confirm": "another-pass-1"}, follow_redirects=True)
    assert "already used" in text(reused)
    unknown = client.post("/reset", data={"email": "nobody@example.com"}, follow_redirects=True)
    assert "If an account uses that e-mail" in text(unknown)


def test_huge_ids_in_patient_urls_are_404_not_500(client, clinic):
    login(client, clinic.patient.email)
    for path in ("/me/appointments/9223372036854775808/cancel", "/me/appointments/9223372036854775808/reschedule",
                 "/me/appointments/9223372036854775808.ics", "/book/mesotherapy-face/series/change/99999999999"):
        assert client.get(path).status_code == 404


def test_a_single_visit_with_prep_is_acknowledged_in_the_booking_and_audited(client, clinic):
    from tests.integration.factories import make_treatment

    peel = make_treatment(slug="peel", name="Peel", body_area="neck", protocol=dict(sessions=1),
                          prep=[("No retinol", 72)])
    clinic.anna.treatments.append(peel)
    clinic.room.treatments.append(peel)
    db.session.commit()
    login(client, clinic.patient.email)
    start = at(monday_in(3), 10)
    slot = f"{start.isoformat()}|{clinic.anna.id}"
    assert client.get("/book/peel/pick", query_string={"slot": slot}).headers["Location"].endswith("/book/review")
    review = client.get("/book/review")
    assert "I have read what to do before the session" in text(review)
    not_read = client.post("/book/review", data={})
    assert not_read.status_code == 200 and "Please confirm you have read" in text(not_read) and count(Appointment) == 0
    booked = client.post("/book/review", data={"prep_read": "y"})
    assert "/book/done?appointment=" in booked.headers["Location"]
    appointment = db.session.scalar(select(Appointment))
    assert appointment.prep_acknowledged_at is not None
    events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.appointment_id == appointment.id)).all()
    assert sorted(events) == ["appointment.booked", "appointment.prep_acknowledged"]


def _offered(response, href_part: str) -> list[tuple[str, str]]:
    """(link, practitioner's name) of each offered time on a change page."""
    return [(unescape(href), name) for href, name in re.findall(
        rf'href="([^"]*{re.escape(href_part)}[^"]*)">\d\d:\d\d<span class="who"> · ([^<]+)</span>',
        response.get_data(as_text=True))]


def test_each_alternative_names_its_practitioner_and_another_practitioner_moves_only_that_session(client, clinic):
    """Issue 13 bug 8: taking Bruno's time for session 2 moved sessions 3-4 to Bruno as well."""
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    login(client, clinic.patient.email)
    first = at(monday_in(3), 10)
    picked = client.get("/book/mesotherapy-face/pick", query_string={"slot": f"{first.isoformat()}|{clinic.anna.id}"})
    series_page = client.get(picked.headers["Location"])
    change = client.get(links(series_page, "/series/change/1")[0])
    options = _offered(change, "/book/mesotherapy-face/series?")
    # every offered time says with whom: as many named times as times
    assert len(options) == len(links(change, "replan=1")) > 0
    assert {name for _, name in options} == {"Anna Practitioner", "Bruno Practitioner"}
    with_bruno = [link for link, name in options if name == "Bruno Practitioner"]
    changed = client.get(with_bruno[len(with_bruno) // 2])
    hidden = unescape(re.search(r'name="sessions" type="hidden" value="([^"]+)"',
                                changed.get_data(as_text=True)).group(1))
    practitioners = [int(part.split("|")[1]) for part in hidden.split(",")]
    assert practitioners == [clinic.anna.id, clinic.bruno.id, clinic.anna.id, clinic.anna.id]


def test_the_portal_reschedule_grid_names_the_practitioner_of_each_time(client, clinic):
    """Issue 13 bug 8: the grid read "10:00, 10:00" with no word of with whom."""
    sessions = _book_series(client, clinic)
    login(client, clinic.patient.email)
    page = client.get(f"/me/appointments/{sessions[1]['id']}/reschedule").get_data(as_text=True)
    grid = re.findall(r'name="slot" value="[^"|]+\|(\d+)" required> \d\d:\d\d<span class="who"> · ([^<]+)</span>', page)
    assert len(grid) == len(re.findall(r'name="slot"', page)) > 0
    names = {clinic.anna.id: "Anna Practitioner", clinic.bruno.id: "Bruno Practitioner"}
    assert all(names[int(pid)] == name for pid, name in grid)
    assert {name for _, name in grid} == set(names.values())


def test_the_alternatives_of_a_refused_booking_name_their_practitioner(client, clinic):
    """Issue 13 bug 8: the conflict view's alternatives said only the time."""
    from datetime import datetime

    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    login(client, clinic.patient.email)
    first = at(monday_in(3), 10)
    picked = client.get("/book/mesotherapy-face/pick", query_string={"slot": f"{first.isoformat()}|{clinic.anna.id}"})
    hidden = unescape(re.search(r'name="sessions" type="hidden" value="([^"]+)"',
                                client.get(picked.headers["Location"]).get_data(as_text=True)).group(1))
    client.post("/book/mesotherapy-face/series", data={"sessions": hidden, "prep_read": "y"})
    taken = Appointment(patient_id=clinic.other_patient.id, practitioner_id=clinic.anna.id, room_id=clinic.room.id,
                        treatment_id=clinic.consultation.id, status="booked")
    taken.place(datetime.fromisoformat(hidden.split(",")[1].split("|")[0]), 30, 0, 0)
    db.session.add(taken)
    db.session.commit()
    refused = client.post("/book/review", data={})
    named = re.findall(r'href="[^"]*/book/review/replace/1[^"]*">[^<]+<span class="who"> · ([^<]+)</span>',
                       refused.get_data(as_text=True))
    assert len(named) == len(links(refused, "/book/review/replace/1")) > 0
    assert set(named) <= {"Anna Practitioner", "Bruno Practitioner"}


def test_the_series_step_leaves_the_questionnaire_to_the_review_step(client, clinic):
    from tests.integration.factories import make_user

    newcomer = make_user(name="Nora New", email="nora@example.com")
    db.session.commit()
    book_consultation(clinic, newcomer, at(monday_in(1), 9))
    login(client, newcomer.email)
    first = at(monday_in(3), 10)
    page = client.get("/book/mesotherapy-face/series",
                      query_string={"s": f"{first.isoformat()}|{clinic.anna.id}"})
    assert page.status_code == 200
    assert "health questionnaire" not in text(page) and "need a change" not in text(page)
