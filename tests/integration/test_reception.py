"""Reception: the calendar's feeds, moving with overrides, the panel's actions, booking on behalf
of a patient, the day sheet; bad input gets a message and writes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Appointment, AuditEvent, OutboxMessage, Series, User
from booking.models.base import utcnow
from booking.services import booking as booking_service
from booking.services.actor import Actor
from booking.services.booking import SessionRequest
from tests.integration.clinic import PASSWORD, at, book_consultation, build_clinic, monday_in
from tests.integration.factories import make_intake


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, user):
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def book_series(clinic, first):
    """Paola's four face sessions from ``first`` with Anna, 14 days apart (consultation before)."""
    book_consultation(clinic, clinic.patient, first - timedelta(days=7))
    actor = Actor.of(clinic.receptionist)
    sessions = [SessionRequest(first + timedelta(days=14 * i), clinic.anna.id) for i in range(4)]
    return booking_service.book_series(actor, treatment_slug="mesotherapy-face", sessions=sessions,
                                       patient_id=clinic.patient.id)


def wall(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def test_feeds_give_labelled_events_columns_and_shaded_time(client, clinic):
    first = at(monday_in(3), 10)
    series = book_series(clinic, first)
    login(client, clinic.receptionist)
    week = monday_in(5)
    span = f"start={week}T00:00:00&end={week + timedelta(days=7)}T00:00:00"
    events = client.get(f"/reception/api/events?by=practitioner&{span}").get_json()
    second = next(e for e in events if e["id"] == str(series.appointments[1].id))
    assert second["title"] == "Paola P. · face 2/4"
    assert second["resourceIds"] == [f"p{clinic.anna.id}"]
    assert second["start"] == wall(first + timedelta(days=14))  # clinic wall-clock time, no offset
    assert second["editable"] is True
    rooms = client.get(f"/reception/api/events?by=room&{span}").get_json()
    assert [e["resourceIds"] for e in rooms if e["id"] == second["id"]] == [[f"r{clinic.room.id}"]]
    columns = client.get("/reception/api/resources?by=practitioner").get_json()
    assert [c["title"] for c in columns] == ["Anna Practitioner", "Bruno Practitioner"]
    assert client.get("/reception/api/resources?by=room").get_json()[-1]["title"] == "No room"
    shaded = client.get(f"/reception/api/background?by=practitioner&{span}").get_json()
    kinds = {e["extendedProps"]["kind"] for e in shaded}
    assert {"off-hours", "break"} <= kinds
    lunch = [e for e in shaded if e["extendedProps"]["kind"] == "break" and e["resourceIds"] == [f"p{clinic.anna.id}"]]
    assert lunch[0]["start"].endswith("T13:00:00") and lunch[0]["end"].endswith("T14:00:00")
    # A practitioner sees the same events, not editable.
    client.post("/logout")
    login(client, clinic.practitioner_user)
    events = client.get(f"/reception/api/events?by=practitioner&{span}").get_json()
    assert all(e["editable"] is False for e in events)
    for bad in ("start=nonsense&end=2030-01-01T00:00:00", "start=2030-01-02T00:00:00&end=2030-01-01T00:00:00",
                "start=2030-01-01T00:00:00&end=2031-01-01T00:00:00", ""):
        response = client.get(f"/reception/api/events?{bad}", headers={"Accept": "application/json"})
        assert response.status_code == 400
        assert "start and end" in response.get_json()["error"]["message"]


def test_a_drag_that_breaks_the_interval_needs_a_reason_and_is_audited(client, clinic):
    first = at(monday_in(3), 10)
    series = book_series(clinic, first)
    second = series.appointments[1]
    login(client, clinic.receptionist)
    target = wall(first + timedelta(days=4))
    response = client.post(f"/reception/api/appointments/{second.id}/move", json={"start": target})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert "interval_too_short" in [p["code"] for p in error["problems"]]
    assert error["overridable"] is True
    assert count(AuditEvent, AuditEvent.action == "appointment.moved") == 0
    response = client.post(f"/reception/api/appointments/{second.id}/move",
                           json={"start": target, "override_reason": "Patient travels on the planned date"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["start"] == target
    db.session.rollback()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.moved")).one()
    assert event.reason == "Patient travels on the planned date"
    assert "interval_too_short" in event.after["overridden"]
    assert event.actor_id == clinic.receptionist.id
    # The audit page shows it, filtered by the appointment.
    page = client.get(f"/admin/audit?appointment={second.id}").get_data(as_text=True)
    assert "appointment.moved" in page and "Patient travels on the planned date" in page


def test_a_taken_slot_cannot_be_overridden(client, clinic):
    first = at(monday_in(3), 10)
    series = book_series(clinic, first)
    login(client, clinic.receptionist)
    other = book_consultation(clinic, clinic.other_patient, first + timedelta(days=14, hours=2), status="booked")
    other.practitioner_id = clinic.anna.id  # Anna is busy then
    db.session.commit()
    response = client.post(f"/reception/api/appointments/{series.appointments[1].id}/move",
                           json={"start": wall(other.start_at.astimezone(first.tzinfo)), "override_reason": "please"})
    assert response.status_code == 409
    assert response.get_json()["error"]["overridable"] is False
    response = client.post(f"/reception/api/appointments/{series.appointments[1].id}/move", json={"start": "soon"})
    assert response.status_code == 400
    assert count(AuditEvent, AuditEvent.action == "appointment.moved") == 0


def test_panel_actions_follow_the_allowed_transitions(client, clinic):
    now = utcnow()
    past = book_consultation(clinic, clinic.patient, now - timedelta(hours=1), status="booked")
    future = book_consultation(clinic, clinic.other_patient, now + timedelta(days=3), status="booked")
    login(client, clinic.receptionist)
    page = client.get(f"/reception/appointments/{past.id}").get_data(as_text=True)
    assert "Paola Patient" in page and "paola@example.com" in page and "No-show" in page
    response = client.post(f"/reception/appointments/{future.id}/status", data={"action": "check_in"},
                           follow_redirects=True)
    assert "only on the day of the appointment" in response.get_data(as_text=True)
    response = client.post(f"/reception/appointments/{past.id}/status", data={"action": "no_show"},
                           follow_redirects=True)
    assert "Marked as no-show" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Appointment, past.id).status == "no_show"
    assert db.session.get(Appointment, future.id).status == "booked"
    response = client.post(f"/reception/appointments/{past.id}/status", data={"action": "complete"},
                           follow_redirects=True)
    assert "cannot be marked completed" in response.get_data(as_text=True)
    response = client.post(f"/reception/appointments/{past.id}/status", data={"action": "explode"},
                           follow_redirects=True)
    assert "not known" in response.get_data(as_text=True)
    assert [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.appointment_id == past.id))] \
        == ["appointment.no_show"]


def test_cancel_needs_a_reason_and_resend_queues_the_invite_again(client, clinic):
    first = at(monday_in(3), 10)
    series = book_series(clinic, first)
    target = series.appointments[2]
    login(client, clinic.receptionist)
    response = client.post(f"/reception/appointments/{target.id}/cancel", data={"reason": "  "}, follow_redirects=True)
    assert "Say why" in response.get_data(as_text=True)
    assert count(Appointment, Appointment.status == "cancelled") == 0
    outbox = count(OutboxMessage)
    response = client.post(f"/reception/appointments/{target.id}/resend", follow_redirects=True)
    assert "queued again" in response.get_data(as_text=True)
    assert count(OutboxMessage) == outbox + 1
    assert count(AuditEvent, AuditEvent.action == "appointment.invite_resent") == 1
    response = client.post(f"/reception/appointments/{target.id}/cancel",
                           data={"reason": "Practitioner ill", "rest_of_series": "y",
                                 "next": f"/reception?date={first.date()}"})
    assert response.headers["Location"] == f"/reception?date={first.date()}"
    assert count(Appointment, Appointment.status == "cancelled") == 2
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.cancelled")).first()
    assert event.reason == "Practitioner ill"
    # An off-site "next" is ignored.
    response = client.post(f"/reception/appointments/{target.id}/resend", data={"next": "https://evil.example/"})
    assert response.headers["Location"].startswith("/reception/appointments/")


def test_phoned_in_patient_is_added_and_booked_for_a_whole_series(client, clinic):
    login(client, clinic.receptionist)
    first = at(monday_in(3), 10)
    page = client.get(f"/reception/book?q=paola&start={wall(first)}&practitioner={clinic.anna.id}")
    assert "Book for Paola Patient" in page.get_data(as_text=True)
    # Bad input: a message, nobody added.
    bad = client.post("/reception/patients", data={"name": "N", "email": "not-an-email", "phone": "abc"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Invalid email address" in text and "Use digits" in text
    taken = client.post("/reception/patients", data={"name": "Paola Again", "email": "PAOLA@example.com",
                                                     "phone": "+39 333 1"})
    assert "already exists" in taken.get_data(as_text=True)
    assert count(User, User.role == "patient") == 2
    response = client.post("/reception/patients", data={"name": "Nina Phone", "email": "nina@example.com",
                                                         "phone": "+39 333 7654321", "start": wall(first),
                                                         "practitioner": str(clinic.anna.id)})
    assert response.status_code == 302
    nina = db.session.scalars(select(User).where(User.email == "nina@example.com")).one()
    assert f"patient={nina.id}" in response.headers["Location"]
    book_consultation(clinic, nina, first - timedelta(days=7))
    make_intake(nina)  # filled in for the consultation; the face series asks for it
    db.session.commit()
    form = {"patient_id": nina.id, "treatment": "mesotherapy-face", "mode": "series",
            "start": first.strftime("%Y-%m-%dT%H:%M"), "practitioner": clinic.anna.id}
    planned = client.post("/reception/book", data={**form, "plan": "Plan the series"})
    assert planned.status_code == 200
    text = planned.get_data(as_text=True)
    assert text.count('name="sessions-') >= 8  # four sessions, each a start and a practitioner
    sessions = {f"sessions-{i}-start": (first + timedelta(days=14 * i)).strftime("%Y-%m-%dT%H:%M")
                for i in range(4)} | {f"sessions-{i}-practitioner": clinic.anna.id for i in range(4)}
    assert count(Series) == 0
    response = client.post("/reception/book", data={**form, **sessions, "book": "Book"})
    assert response.status_code == 302, response.get_data(as_text=True)
    series = db.session.scalars(select(Series).where(Series.patient_id == nina.id)).one()
    assert len(series.appointments) == 4 and series.created_by_id == clinic.receptionist.id


def test_a_refused_booking_names_the_problem_and_books_with_an_override_reason(client, clinic):
    login(client, clinic.receptionist)
    start = at(monday_in(3), 10)
    form = {"patient_id": clinic.patient.id, "treatment": "mesotherapy-face", "mode": "single",
            "start": start.strftime("%Y-%m-%dT%H:%M"), "practitioner": clinic.anna.id, "book": "Book"}
    refused = client.post("/reception/book", data=form)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "needs a consultation first" in text and "Override reason" in text
    assert "consultation_required" not in text
    assert count(Appointment) == 0
    booked = client.post("/reception/book", data={**form, "override_reason": "Consulted at the other clinic"})
    assert booked.status_code == 302
    appointment = db.session.scalars(select(Appointment)).one()
    assert appointment.override_reason == "Consulted at the other clinic"
    # Bad input: a message per field, nothing written.
    bad = client.post("/reception/book", data={**form, "start": "31/02/2030", "treatment": "nope"})
    assert bad.status_code == 400
    assert "Give the start date and time" in bad.get_data(as_text=True) or "Not a valid" in bad.get_data(as_text=True)
    assert count(Appointment) == 1
    far = client.post("/reception/book", data={**form, "start": "1850-01-01T10:00"})
    assert "between the years 2000 and 2100" in far.get_data(as_text=True)
    assert count(Appointment) == 1


def test_day_sheet_lists_each_practitioners_day(client, clinic):
    first = at(monday_in(3), 10)
    book_series(clinic, first)
    login(client, clinic.practitioner_user)
    page = client.get(f"/reception/day-sheet?date={first.date()}").get_data(as_text=True)
    assert "Anna Practitioner" in page and "Bruno Practitioner" in page
    assert "Paola Patient" in page and "10:00–10:30" in page and "1/4" in page
    assert '<link rel="stylesheet" href="/static/css/reception.css">' in page
    assert "@media print" in (Path(__file__).parents[2] / "static" / "css" / "reception.css").read_text()
    assert client.get("/reception/day-sheet?date=garbage").status_code == 200


def test_posts_without_a_csrf_token_are_refused(app, client, clinic):
    app.config["WTF_CSRF_ENABLED"] = True
    future = book_consultation(clinic, clinic.patient, utcnow() + timedelta(days=3), status="booked")
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"email": clinic.receptionist.email, "password": PASSWORD, "csrf_token": token})
    assert client.post(f"/reception/appointments/{future.id}/cancel", data={"reason": "x"}).status_code == 400
    response = client.post(f"/reception/api/appointments/{future.id}/move", json={"start": "2030-01-01T10:00:00"})
    assert response.status_code == 400
    assert count(Appointment, Appointment.status == "cancelled") == 0
    # The calendar page carries the token the script sends as X-CSRFToken.
    page = client.get("/reception").get_data(as_text=True)
    token = page.split('data-csrf="')[1].split('"')[0]
    response = client.post(f"/reception/api/appointments/{future.id}/move", json={"start": "2030-01-01T10:00:00"},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 422 and "problems" in response.get_json()["error"]


def test_the_panel_moves_without_a_drag_and_a_drag_can_replan_the_rest(client, clinic):
    first = at(monday_in(3), 10)
    series = book_series(clinic, first)
    second, third = series.appointments[1], series.appointments[2]
    login(client, clinic.receptionist)
    page = client.get(f"/reception/appointments/{second.id}").get_data(as_text=True)
    assert "New start (clinic time)" in page and "Re-plan the later sessions" in page
    too_soon = (first + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    refused = client.post(f"/reception/appointments/{second.id}/move",
                          data={"start": too_soon, "practitioner": clinic.anna.id}, follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "Not done:" in text and "override this with a reason" in text
    assert "this treatment needs at least 10 days between sessions" in text
    assert "interval_too_short" not in text  # words on screen, codes are for the API
    assert count(AuditEvent, AuditEvent.action == "appointment.moved") == 0
    bad = client.post(f"/reception/appointments/{second.id}/move", data={"start": "", "practitioner": "x"},
                      follow_redirects=True)
    assert "Give the new date and time" in bad.get_data(as_text=True)
    moved = client.post(f"/reception/appointments/{second.id}/move",
                        data={"start": too_soon, "practitioner": clinic.bruno.id, "override_reason": "Only day free"},
                        follow_redirects=True)
    assert "Moved to" in moved.get_data(as_text=True)
    db.session.rollback()
    row = db.session.get(Appointment, second.id)
    assert row.practitioner_id == clinic.bruno.id and row.override_reason == "Only day free"
    # A drag three days later that re-plans the following sessions from the new date.
    later = first + timedelta(days=17)
    response = client.post(f"/reception/api/appointments/{second.id}/move",
                           json={"start": wall(later), "replan_following": True})
    assert response.status_code == 200, response.get_json()
    db.session.rollback()
    assert db.session.get(Appointment, third.id).start_at == (later + timedelta(days=14)).astimezone(third.start_at.tzinfo)
    # Practitioners get no move form.
    client.post("/logout")
    login(client, clinic.practitioner_user)
    assert "New start" not in client.get(f"/reception/appointments/{second.id}").get_data(as_text=True)


def test_a_phone_only_patient_is_booked_and_gets_no_mail_while_the_invite_has_no_attendee(client, clinic):
    """Issue 13: a phoned-in patient may have a phone number and no e-mail address."""
    from icalendar import Calendar

    from booking.calendar import invites
    from booking.services.clinic import get_settings

    login(client, clinic.receptionist)
    neither = client.post("/reception/patients", data={"name": "No Contact", "email": "", "phone": ""})
    assert neither.status_code == 400
    assert count(User, User.name == "No Contact") == 0
    response = client.post("/reception/patients", data={"name": "Piero Phone", "email": "",
                                                         "phone": "+39 333 1112223"})
    assert response.status_code == 302, response.get_data(as_text=True)
    piero = db.session.scalars(select(User).where(User.name == "Piero Phone")).one()
    assert piero.email is None
    second = client.post("/reception/patients", data={"name": "Pia Phone", "phone": "+39 333 4445556"})
    assert second.status_code == 302  # many patients without an address
    mails_before = count(OutboxMessage)
    appointment = book_consultation(clinic, piero, at(monday_in(3), 10), status="booked")
    actor = Actor.of(clinic.receptionist)
    booking_service.book_appointment(actor, treatment_slug="consultation", start=at(monday_in(3), 15),
                         practitioner_id=clinic.anna.id, patient_id=piero.id)
    assert count(OutboxMessage) == mails_before  # nobody to mail: nothing queued, nothing lost
    calendar = Calendar.from_ical(invites.build_request(appointment, get_settings(), "http://x/me"))
    (event,) = calendar.walk("VEVENT")
    assert "ATTENDEE" not in event and "ORGANIZER" in event
    resend = client.post(f"/reception/appointments/{appointment.id}/resend", data={"next": "/reception"})
    assert resend.status_code in (302, 400, 409)
    assert count(OutboxMessage) == mails_before
    # Every reception screen says so (issue 13): the search results, the booking page and the
    # panel, never "None"; the panel offers no "Resend invite".
    no_email = "No e-mail: this patient gets no mail or invites"
    found = client.get("/reception/book?q=piero").get_data(as_text=True)
    assert "Book for Piero Phone" in found and no_email in found and "None" not in found
    booking = client.get(f"/reception/book?patient={piero.id}").get_data(as_text=True)
    assert no_email in booking and "None" not in booking
    panel = client.get(f"/reception/appointments/{appointment.id}").get_data(as_text=True)
    assert no_email in panel and "None" not in panel and "Resend invite" not in panel
