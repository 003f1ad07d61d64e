"""Signing in, the patient's appointments page, calendar subscription links, the dev mailbox."""

from __future__ import annotations

import re

import pytest
from icalendar import Calendar
from sqlalchemy import select

from booking import create_app
from booking.extensions import db
from booking.models import FeedToken
from tests.integration.clinic import PASSWORD, at, book_consultation, build_clinic, monday_in
from tests.integration.ics_rules import assert_valid_ics


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, email, password=PASSWORD, next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password, "next": next_url or ""})


def test_sign_in_with_a_wrong_password_shows_a_message(client, clinic):
    response = login(client, clinic.patient.email, "wrong")
    assert response.status_code == 200
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert client.get("/me").status_code == 302


def test_sign_in_redirects_home_and_never_off_site(client, clinic):
    assert login(client, clinic.patient.email).headers["Location"] == "/me"
    client.post("/logout")
    for evil in ("https://evil.example/x", "//evil.example", "/\\evil.example"):
        assert login(client, clinic.patient.email, next_url=evil).headers["Location"] == "/me"
        client.post("/logout")
    assert login(client, clinic.patient.email, next_url="/calendar").headers["Location"] == "/calendar"


def test_sign_in_is_rate_limited_and_csrf_protected(database_url, tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_ENABLED=True,
                     RATELIMIT_LOGIN="3 per minute", WTF_CSRF_ENABLED=True)
    with app.app_context():
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        no_token = client.post("/login", data={"email": "a@b.c", "password": "x"})
        assert no_token.status_code == 400
        statuses = [client.post("/login", data={"email": "a@b.c", "password": "x", "csrf_token": token}).status_code
                    for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        db.session.remove()
        db.engine.dispose()


def test_patient_sees_own_appointments_and_downloads_an_invite(client, clinic):
    mine = book_consultation(clinic, clinic.patient, at(monday_in(2), 10), status="booked")
    theirs = book_consultation(clinic, clinic.other_patient, at(monday_in(2), 11), status="booked")
    login(client, clinic.patient.email)
    page = client.get("/me").get_data(as_text=True)
    assert "Consultation" in page and "Add to calendar" in page
    assert f"/me/appointments/{mine.id}.ics" in page and f"/me/appointments/{theirs.id}.ics" not in page
    download = client.get(f"/me/appointments/{mine.id}.ics")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    calendar = assert_valid_ics(download.data, itip="REQUEST")
    assert str(calendar.walk("VEVENT")[0]["UID"]) == mine.ical_uid
    assert client.get(f"/me/appointments/{theirs.id}.ics").status_code == 404


def test_subscription_link_is_shown_once_and_can_be_revoked(client, clinic):
    book_consultation(clinic, clinic.patient, at(monday_in(2), 10), status="booked")
    login(client, clinic.patient.email)
    created = client.post("/calendar", data={"target": f"patient:{clinic.patient.id}"}, follow_redirects=True)
    page = created.get_data(as_text=True)
    url = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', page).group(1)
    assert 'href="webcal://' in page and "Copy link" in page
    path = "/feeds/" + url.rsplit("/feeds/", 1)[1]
    feed = client.get(path)
    assert feed.status_code == 200 and Calendar.from_ical(feed.data)
    assert url not in client.get("/calendar").get_data(as_text=True)  # shown once only
    feed_id = db.session.scalar(select(FeedToken.id))
    client.post(f"/calendar/{feed_id}/revoke")
    assert client.get(path).status_code == 404
    forged = client.post("/calendar", data={"target": "clinic:"})
    assert forged.status_code == 200  # not a valid choice for a patient: form error, nothing made
    assert db.session.scalar(select(FeedToken).where(FeedToken.scope == "clinic")) is None


def test_staff_can_subscribe_to_a_practitioner_room_or_the_clinic(client, clinic):
    login(client, clinic.receptionist.email)
    page = client.get("/calendar").get_data(as_text=True)
    assert "The whole clinic" in page and "Room: Sala Verde" in page and "Practitioner: Anna Practitioner" in page
    client.post("/calendar", data={"target": f"room:{clinic.room.id}"})
    assert db.session.scalar(select(FeedToken.scope)) == "room"


def test_the_mailbox_is_for_admins_only(client, clinic, app, tmp_path):
    (tmp_path / "mail").mkdir(exist_ok=True)
    (tmp_path / "mail" / "1-appointment.booked.eml").write_bytes(
        b"To: paola@example.com\r\nSubject: Booked: test\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
        b"Content-Type: text/plain\r\n\r\nHello\r\n")
    assert client.get("/staff/mail").status_code == 302  # anonymous: to sign-in
    login(client, clinic.patient.email)
    assert client.get("/staff/mail").status_code == 403
    client.post("/logout")
    login(client, clinic.receptionist.email)
    assert client.get("/staff/mail").status_code == 403  # every patient's mail: not for the front desk
    client.post("/logout")
    login(client, clinic.admin.email)
    page = client.get("/staff/mail").get_data(as_text=True)
    assert "Booked: test" in page
    assert "Hello" in client.get("/staff/mail/1-appointment.booked.eml").get_data(as_text=True)
    assert client.get("/staff/mail/..%2Fsecret.eml").status_code == 404


@pytest.mark.parametrize("who", ["receptionist", "admin", "practitioner_user"])
def test_staff_land_on_the_clinic_calendar_after_signing_in(client, clinic, who):
    user = getattr(clinic, who)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/reception"
    assert client.get("/reception").status_code == 200


def test_a_patient_lands_on_their_appointments_after_signing_in(client, clinic):
    response = client.post("/login", data={"email": clinic.patient.email, "password": PASSWORD})
    assert response.headers["Location"] == "/me"
