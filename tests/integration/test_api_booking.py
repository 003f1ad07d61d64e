"""The JSON API's booking flow: tokens, catalog, availability, plan, series, reschedule, cancel."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import ApiToken, Appointment, AuditEvent, ClinicSettings, OutboxMessage, Series
from booking.models.access import hash_secret
from booking.models.base import utcnow
from tests.integration.clinic import TZ, Api, at, book_consultation, build_clinic, codes, monday_in, token_for


@pytest.fixture
def clinic(app):
    return build_clinic()


@pytest.fixture
def patient_api(client, clinic):
    return Api(client, clinic.patient.email)


@pytest.fixture
def reception_api(client, clinic):
    return Api(client, clinic.receptionist.email)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- tokens -------------------------------------------------------------------------------
def test_a_wrong_password_is_401(client, clinic):
    response = client.post("/api/v1/tokens", json={"email": clinic.patient.email, "password": "nope"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_credentials"


def test_tokens_are_stored_hashed_expire_and_can_be_revoked(client, clinic):
    token = token_for(client, clinic.patient.email)
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert stored == [hash_secret(token)] and token not in stored
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/appointments", headers=headers).status_code == 200

    row = db.session.scalar(select(ApiToken))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/appointments", headers=headers).status_code == 401

    row.expires_at = utcnow() + timedelta(hours=1)
    row.revoked_at = utcnow()
    db.session.commit()
    response = client.get("/api/v1/appointments", headers=headers)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_token"


def test_a_token_can_revoke_itself(client, clinic):
    token = token_for(client, clinic.patient.email)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.delete("/api/v1/tokens", headers=headers).status_code == 204
    assert client.get("/api/v1/appointments", headers=headers).status_code == 401
    assert client.delete("/api/v1/tokens").status_code == 401


def test_private_routes_need_a_token(client, clinic):
    for method, path in [("get", "/api/v1/appointments"), ("post", "/api/v1/series"),
                         ("post", "/api/v1/series/plan"), ("get", "/api/v1/appointments/1")]:
        response = getattr(client, method)(path, json={} if method == "post" else None)
        assert response.status_code in (400, 401)
        if response.status_code == 400:  # shape is checked before auth: still no data leaks
            assert "error" in response.get_json()
    assert client.get("/api/v1/appointments").status_code == 401


# --- catalog and availability ---------------------------------------------------------------
def test_treatments_show_the_protocol(client, clinic):
    treatments = {t["slug"]: t for t in client.get("/api/v1/treatments").get_json()}
    face = treatments["mesotherapy-face"]
    assert face["protocol"] == {
        "sessions": 4, "interval_days": {"min": 10, "target": 14, "max": 21},
        "requires_consultation": True, "aftercare_hours": 72,
        "prep": [{"instruction": "Stop aspirin and NSAIDs", "lead_hours": 168},
                 {"instruction": "No alcohol", "lead_hours": 24}],
    }
    assert treatments["consultation"]["kind"] == "consultation"
    practitioners = client.get("/api/v1/practitioners").get_json()
    assert [p["treatments"] for p in practitioners] == [["consultation", "mesotherapy-face"]] * 2


def test_a_patient_without_consultation_is_offered_the_consultation_first(patient_api):
    day = monday_in(2)
    body = patient_api.get(f"/availability?treatment=mesotherapy-face&start={day}&end={day}").get_json()
    assert body["treatment"] == "consultation"
    assert "consultation first" in body["note"]
    starts = [datetime.fromisoformat(s["start"]) for s in body["slots"]]
    assert starts[0] == at(day, 9, 0)
    assert all(s.utcoffset() == at(day, 9).utcoffset() for s in starts)  # the clinic's offset


def test_treatment_slots_respect_prep_window_and_the_consultation_rule(clinic, patient_api):
    consult_day = utcnow().astimezone(TZ).date() + timedelta(days=1)
    book_consultation(clinic, clinic.patient, at(consult_day, 9), status="booked")
    first, last = consult_day, consult_day + timedelta(days=13)
    body = patient_api.get(f"/availability?treatment=mesotherapy-face&start={first}&end={last}").get_json()
    assert body["treatment"] == "mesotherapy-face"
    starts = [datetime.fromisoformat(s["start"]) for s in body["slots"]]
    assert starts, "some slots after the prep window"
    assert min(starts) >= utcnow() + timedelta(days=7)  # stop aspirin 7 days before
    assert min(starts).date() >= consult_day + timedelta(days=2)  # consultation 2 days before


def test_availability_rejects_bad_input(client, clinic):
    bad = [
        "treatment=mesotherapy-face&start=2030-01-10&end=2030-01-01",
        "treatment=mesotherapy-face&start=not-a-date&end=2030-01-01",
        "treatment=no-such&start=2030-01-01&end=2030-01-02",
        "treatment=mesotherapy-face&start=2030-01-01&end=2030-06-01",
        "start=2030-01-01&end=2030-01-02",
    ]
    for query in bad:
        response = client.get(f"/api/v1/availability?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["error"]["message"]


# --- plan and series ----------------------------------------------------------------------
def test_plan_proposes_four_sessions_two_weeks_apart_at_the_same_local_time(clinic, patient_api):
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    first = at(monday_in(3), 10)
    response = patient_api.post("/series/plan", {"treatment": "mesotherapy-face",
                                                 "first_start": first.isoformat(),
                                                 "practitioner_id": clinic.anna.id})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["problems"] == []
    starts = [datetime.fromisoformat(s["start"]) for s in body["sessions"]]
    assert starts == [first + timedelta(days=14 * i) for i in range(4)] or all(
        s.astimezone(TZ).time() == first.time() for s in starts)
    assert [s.astimezone(TZ).hour for s in starts] == [10] * 4
    assert [(b - a).days for a, b in zip(starts, starts[1:])] == [14, 14, 14]
    assert {s["practitioner_id"] for s in body["sessions"]} == {clinic.anna.id}
    assert count(Appointment) == 1  # only the consultation: planning books nothing


def test_booking_a_series_books_every_session_and_queues_one_summary_plus_invites(clinic, patient_api):
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    starts = [at(monday_in(3) + timedelta(days=14 * i), 10) for i in range(4)]
    response = patient_api.post("/series", {"treatment": "mesotherapy-face", "sessions": [
        {"start": s.isoformat(), "practitioner_id": clinic.anna.id} for s in starts]})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert [a["series_index"] for a in body["appointments"]] == [0, 1, 2, 3]
    assert [datetime.fromisoformat(a["start"]) for a in body["appointments"]] == starts
    assert all(a["room_id"] == clinic.room.id for a in body["appointments"])
    kinds = sorted(db.session.scalars(select(OutboxMessage.kind)))
    assert kinds == ["appointment.booked"] * 4 + ["series.booked"]
    assert count(AuditEvent) == 5


def test_a_series_that_collides_anywhere_writes_nothing(clinic, patient_api, reception_api):
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    book_consultation(clinic, clinic.other_patient, at(monday_in(2), 11))
    starts = [at(monday_in(3) + timedelta(days=14 * i), 10) for i in range(4)]
    # Another patient already holds Anna at the time of the fourth session.
    taken = reception_api.post("/appointments", {"treatment": "mesotherapy-face", "start": starts[3].isoformat(),
                                                 "practitioner_id": clinic.anna.id,
                                                 "patient_id": clinic.other_patient.id})
    assert taken.status_code == 201, taken.get_json()
    before = (count(Appointment), count(Series), count(OutboxMessage), count(AuditEvent))
    response = patient_api.post("/series", {"treatment": "mesotherapy-face", "sessions": [
        {"start": s.isoformat(), "practitioner_id": clinic.anna.id} for s in starts]})
    assert response.status_code == 409
    problems = response.get_json()["error"]["problems"]
    assert {(p["code"], p["session_index"]) for p in problems} == {("slot_taken", 3)}
    assert (count(Appointment), count(Series), count(OutboxMessage), count(AuditEvent)) == before


def test_idempotency_key_returns_the_first_result_and_books_nothing_more(clinic, reception_api):
    payload = {"treatment": "consultation", "start": at(monday_in(2), 10).isoformat(),
               "practitioner_id": clinic.anna.id, "patient_id": clinic.patient.id}
    first = reception_api.post("/appointments", payload, headers={"Idempotency-Key": "abc-1"})
    again = reception_api.post("/appointments", payload, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert count(Appointment) == 1
    series_payload = {"treatment": "consultation", "patient_id": clinic.other_patient.id,
                      "sessions": [{"start": at(monday_in(2), 11).isoformat(), "practitioner_id": clinic.anna.id}]}
    s1 = reception_api.post("/series", series_payload, headers={"Idempotency-Key": "s-1"})
    s2 = reception_api.post("/series", series_payload, headers={"Idempotency-Key": "s-1"})
    assert s1.status_code == s2.status_code == 201 and s1.get_json() == s2.get_json()
    assert count(Series) == 1
    reused = reception_api.post("/series", series_payload, headers={"Idempotency-Key": "abc-1"})
    assert reused.status_code == 422 and reused.get_json()["error"]["code"] == "idempotency_key_reused"


# --- reschedule and cancel ------------------------------------------------------------------
def _book_series(clinic, api, weeks=3):
    book_consultation(clinic, clinic.patient, at(monday_in(weeks - 1), 9))
    starts = [at(monday_in(weeks) + timedelta(days=14 * i), 10) for i in range(4)]
    response = api.post("/series", {"treatment": "mesotherapy-face", "sessions": [
        {"start": s.isoformat(), "practitioner_id": clinic.anna.id} for s in starts]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["appointments"]


def test_rescheduling_one_session_rechecks_its_neighbours(clinic, patient_api):
    sessions = _book_series(clinic, patient_api)
    second = sessions[1]
    old_start = datetime.fromisoformat(second["start"])
    # Two days later keeps 16 and 12 days to the neighbours: allowed.
    moved = patient_api.patch(f"/appointments/{second['id']}", {"start": (old_start + timedelta(days=2)).isoformat()})
    assert moved.status_code == 200, moved.get_json()
    assert datetime.fromisoformat(moved.get_json()["start"]) == old_start + timedelta(days=2)
    # Moving it to 5 days after the first session breaks the interval rule.
    first_start = datetime.fromisoformat(sessions[0]["start"])
    refused = patient_api.patch(f"/appointments/{second['id']}", {"start": (first_start + timedelta(days=5)).isoformat()})
    assert refused.status_code == 422
    assert "interval_too_short" in codes(refused)
    row = db.session.get(Appointment, second["id"])
    db.session.refresh(row)
    assert row.start_at == old_start + timedelta(days=2) and row.ical_sequence == 1


def test_rescheduling_with_replan_moves_the_following_sessions(clinic, patient_api):
    sessions = _book_series(clinic, patient_api)
    second = sessions[1]
    new_start = datetime.fromisoformat(second["start"]) + timedelta(days=7)
    response = patient_api.patch(f"/appointments/{second['id']}",
                                 {"start": new_start.isoformat(), "replan_following": True})
    assert response.status_code == 200, response.get_json()
    rows = db.session.scalars(select(Appointment).where(Appointment.series_id.is_not(None))
                              .order_by(Appointment.series_index)).all()
    for row in rows:
        db.session.refresh(row)
    starts = [r.start_at for r in rows]
    assert starts[1] == new_start
    assert [(b.astimezone(TZ).date() - a.astimezone(TZ).date()).days for a, b in zip(starts[1:], starts[2:])] == [14, 14]
    assert [r.ical_sequence for r in rows] == [0, 1, 1, 1]


def test_moving_one_session_to_another_practitioner_with_replan_keeps_the_rest_with_theirs(clinic, patient_api):
    """Issue 13 bug 8: the re-planned later sessions followed the moved session to its practitioner."""
    sessions = _book_series(clinic, patient_api)
    second = sessions[1]
    new_start = datetime.fromisoformat(second["start"]) + timedelta(days=7)
    response = patient_api.patch(f"/appointments/{second['id']}", {
        "start": new_start.isoformat(), "practitioner_id": clinic.bruno.id, "replan_following": True})
    assert response.status_code == 200, response.get_json()
    rows = db.session.scalars(select(Appointment).where(Appointment.series_id.is_not(None))
                              .order_by(Appointment.series_index)).all()
    for row in rows:
        db.session.refresh(row)
    assert rows[1].start_at == new_start
    assert [r.practitioner_id for r in rows] == [clinic.anna.id, clinic.bruno.id, clinic.anna.id, clinic.anna.id]


def test_cancelling_one_session_or_the_rest_of_the_series(clinic, patient_api):
    sessions = _book_series(clinic, patient_api)
    one = patient_api.post(f"/appointments/{sessions[3]['id']}/cancel", {"reason": "holiday"})
    assert one.status_code == 200 and one.get_json()["status"] == "cancelled"
    rest = patient_api.post(f"/appointments/{sessions[1]['id']}/cancel", {"rest_of_series": True})
    assert rest.status_code == 200
    statuses = [patient_api.get(f"/appointments/{s['id']}").get_json()["status"] for s in sessions]
    assert statuses == ["booked", "cancelled", "cancelled", "cancelled"]
    cancel_mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.ics_method == "CANCEL")).all()
    assert len(cancel_mails) == 3
    invite = Calendar.from_ical(patient_api.get(f"/appointments/{sessions[1]['id']}/invite.ics").data)
    event = invite.walk("VEVENT")[0]
    assert invite["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED"
    assert event["SEQUENCE"] == 1 and event["UID"] == db.session.get(Appointment, sessions[1]["id"]).ical_uid
    again = patient_api.post(f"/appointments/{sessions[1]['id']}/cancel", {})
    assert again.status_code == 409


def test_cancellation_cutoff_binds_patients_and_staff_override_it_with_a_reason(clinic, patient_api, reception_api):
    soon = utcnow() + timedelta(hours=30)
    appointment = book_consultation(clinic, clinic.patient, soon, status="booked")
    settings = db.session.get(ClinicSettings, 1)
    settings.cancel_cutoff_hours = 48
    db.session.commit()
    refused = patient_api.post(f"/appointments/{appointment.id}/cancel", {})
    assert refused.status_code == 422 and codes(refused) == ["cancellation_cutoff"]
    assert "close 48 hours before" in refused.get_json()["error"]["message"]
    moved = patient_api.patch(f"/appointments/{appointment.id}", {"start": (soon + timedelta(days=7)).isoformat()})
    assert moved.status_code == 422 and "cancellation_cutoff" in codes(moved)
    no_reason = reception_api.post(f"/appointments/{appointment.id}/cancel", {})
    assert no_reason.status_code == 422
    done = reception_api.post(f"/appointments/{appointment.id}/cancel",
                              {"override_reason": "Patient phoned, fever"})
    assert done.status_code == 200 and done.get_json()["status"] == "cancelled"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.cancelled")).one()
    assert event.reason == "Patient phoned, fever"
    assert event.after["overridden"] == ["cancellation_cutoff"]
    assert event.actor_id == clinic.receptionist.id


def test_invite_is_a_request_with_the_clinic_timezone(clinic, reception_api):
    response = reception_api.post("/appointments", {"treatment": "consultation",
                                                    "start": at(monday_in(2), 10).isoformat(),
                                                    "practitioner_id": clinic.anna.id,
                                                    "patient_id": clinic.patient.id})
    ics = reception_api.get(f"/appointments/{response.get_json()['id']}/invite.ics")
    assert ics.status_code == 200
    assert ics.headers["Content-Type"].startswith("text/calendar") and "method=REQUEST" in ics.headers["Content-Type"]
    calendar = Calendar.from_ical(ics.data)
    assert calendar["METHOD"] == "REQUEST"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Rome"]
    event = calendar.walk("VEVENT")[0]
    assert event.decoded("DTSTART") == at(monday_in(2), 10)
    assert str(event["SUMMARY"]) == "Appointment at Test Clinic"
    assert str(event["CLASS"]) == "PRIVATE"
