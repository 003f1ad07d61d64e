"""Subscription feeds: what each reader sees, caching headers, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from booking.extensions import db
from booking.models import Appointment, FeedToken
from booking.models.base import utcnow
from tests.integration.clinic import Api, at, book_consultation, build_clinic, monday_in


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    return clinic


@pytest.fixture
def booked_series(client, clinic):
    api = Api(client, clinic.patient.email)
    starts = [at(monday_in(3) + timedelta(days=14 * i), 10) for i in range(4)]
    response = api.post("/series", {"treatment": "mesotherapy-face", "sessions": [
        {"start": s.isoformat(), "practitioner_id": clinic.anna.id} for s in starts]})
    assert response.status_code == 201
    return response.get_json()["appointments"]


def feed_path(api, scope, target=None):
    response = api.post("/feeds", {"scope": scope, **({"id": target} if target else {})})
    assert response.status_code == 201, response.get_json()
    url = response.get_json()["url"]
    return "/feeds/" + url.rsplit("/feeds/", 1)[1], response.get_json()["id"]


def events(response):
    return [e for e in Calendar.from_ical(response.data).walk("VEVENT")]


def test_practitioner_feed_shows_initials_treatment_and_series_position(client, clinic, booked_series):
    reception = Api(client, clinic.receptionist.email)
    path, _ = feed_path(reception, "practitioner", clinic.anna.id)
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "Content-Encoding" not in response.headers
    calendar = Calendar.from_ical(response.data)
    assert "METHOD" not in calendar
    assert str(calendar["X-WR-CALNAME"]) == "Test Clinic · Anna Practitioner"
    assert "REFRESH-INTERVAL" in calendar and "X-PUBLISHED-TTL" in calendar
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Rome"]
    summaries = [str(e["SUMMARY"]) for e in events(response)]
    assert summaries == [f"P. P. · Mesotherapy, face {i}/4" for i in range(1, 5)]
    assert "Paola" not in response.get_data(as_text=True)


def test_patient_feed_is_discreet_and_shows_prep_steps_as_all_day_events(client, clinic, booked_series):
    api = Api(client, clinic.patient.email)
    path, _ = feed_path(api, "patient")
    response = client.get(path)
    items = events(response)
    sessions = [e for e in items if not str(e["UID"]).startswith("prep-")]
    preps = [e for e in items if str(e["UID"]).startswith("prep-")]
    # the consultation (completed, in the window) and the four sessions
    assert [str(e["SUMMARY"]) for e in sessions] == ["Appointment at Test Clinic"] * 5
    assert "Mesotherapy" not in response.get_data(as_text=True)
    assert len(preps) == 4 * 2  # two prep steps per session
    first_session = at(monday_in(3), 10)
    aspirin = [e for e in preps if str(e["SUMMARY"]).startswith("Stop aspirin")][0]
    assert aspirin.decoded("DTSTART") == (first_session - timedelta(days=7)).date()


def test_etag_is_stable_and_a_conditional_get_is_304_until_something_changes(client, clinic, booked_series):
    reception = Api(client, clinic.receptionist.email)
    path, _ = feed_path(reception, "clinic")
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    assert client.get(path).headers["ETag"] == etag
    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.data == b""
    since = client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    reception.post(f"/appointments/{booked_series[3]['id']}/cancel", {"reason": "test"})
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    cancelled = [e for e in events(changed) if str(e["UID"]) == db.session.get(Appointment, booked_series[3]["id"]).ical_uid]
    assert str(cancelled[0]["STATUS"]) == "CANCELLED" and cancelled[0]["SEQUENCE"] == 1


def test_cancelled_appointments_leave_the_feed_after_30_days(client, clinic, booked_series):
    reception = Api(client, clinic.receptionist.email)
    path, _ = feed_path(reception, "practitioner", clinic.anna.id)
    reception.post(f"/appointments/{booked_series[3]['id']}/cancel", {})
    row = db.session.get(Appointment, booked_series[3]["id"])
    row.updated_at = utcnow() - timedelta(days=31)
    db.session.commit()
    assert len(events(client.get(path))) == 3


def test_revoked_and_unknown_secrets_are_404_and_use_is_recorded(client, clinic, booked_series):
    api = Api(client, clinic.patient.email)
    path, feed_id = feed_path(api, "patient")
    assert client.get(path).status_code == 200
    token = db.session.get(FeedToken, feed_id)
    db.session.refresh(token)
    assert token.last_used_at is not None
    assert len(path.rsplit("/", 1)[1].removesuffix(".ics")) >= 22  # >= 128 bits of base64
    assert db.session.scalar(select(FeedToken.token_hash)) not in path
    assert api.delete(f"/feeds/{feed_id}").status_code == 204
    assert client.get(path).status_code == 404
    assert client.get("/feeds/not-a-real-secret.ics").status_code == 404


def test_a_feed_version_is_reused_briefly_and_forgotten_when_appointments_change(client, clinic, booked_series,
                                                                                  monkeypatch):
    from booking.services import feeds

    reception = Api(client, clinic.receptionist.email)
    path, _ = feed_path(reception, "clinic")
    feeds.forget_feed_versions()
    calls = []
    real = feeds._compute_version
    monkeypatch.setattr(feeds, "_compute_version", lambda *a: calls.append(1) or real(*a))
    first = client.get(path).headers["ETag"]
    assert client.get(path, headers={"If-None-Match": first}).status_code == 304
    assert len(calls) == 1  # the second request reused the version
    reception.post(f"/appointments/{booked_series[0]['id']}/cancel", {})
    assert client.get(path, headers={"If-None-Match": first}).status_code == 200
    assert len(calls) == 2


def _prep_events(client, path):
    """The patient feed's prep events: {(UID, SUMMARY's instruction): SEQUENCE}."""
    preps = [e for e in events(client.get(path)) if str(e["UID"]).startswith("prep-")]
    return {str(e["UID"]): (str(e["SUMMARY"]).split(" (before")[0], int(e["SEQUENCE"])) for e in preps}


def test_prep_events_keep_their_uid_when_a_rule_is_added_and_a_changed_rule_raises_its_sequence(
        client, clinic, booked_series):
    """Issue 13 bug 7: prep events were named by position (prep-0-...), so a new rule changed
    what an existing UID meant without a new SEQUENCE."""
    from booking.models import PrepRule
    from booking.services import catalog_admin
    from booking.services.actor import Actor

    admin = Actor(clinic.admin.id, "admin")
    path, _ = feed_path(Api(client, clinic.patient.email), "patient")
    before = _prep_events(client, path)
    assert len(before) == 4 * 2  # unique UIDs: one per rule and session

    # a rule with the longest lead time sorts first: it used to take over prep-0-...
    catalog_admin.add_prep_rule(admin, clinic.face.id, instruction="Shave the area", lead_hours=10 * 24,
                                remind=True)
    added = _prep_events(client, path)
    assert len(added) == 4 * 3
    assert {uid: added[uid] for uid in before} == before

    aspirin = db.session.scalars(select(PrepRule).where(PrepRule.instruction.startswith("Stop aspirin"))).one()
    catalog_admin.change_prep_rule(admin, aspirin.id, instruction="Stop aspirin", lead_hours=aspirin.lead_hours,
                                   remind=True)
    changed = _prep_events(client, path)
    assert set(changed) == set(added)
    for uid, (instruction, sequence) in added.items():
        if instruction.startswith("Stop aspirin"):
            assert changed[uid] == ("Stop aspirin", sequence + 1)
        else:
            assert changed[uid] == (instruction, sequence)
