"""Every rule problem reaches the API caller with its status, and staff overrides are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Appointment, AuditEvent, ClinicSettings, Intake
from booking.models.base import utcnow
from tests.integration.clinic import TZ, Api, at, book_consultation, build_clinic, codes, monday_in
from tests.integration.factories import make_practitioner, make_treatment, make_user


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    return clinic


@pytest.fixture
def patient_api(client, clinic):
    return Api(client, clinic.patient.email)


@pytest.fixture
def reception_api(client, clinic):
    return Api(client, clinic.receptionist.email)


def book(api, clinic, start, treatment="mesotherapy-face", practitioner=None, **extra):
    return api.post("/appointments", {"treatment": treatment, "start": start.isoformat(),
                                      "practitioner_id": practitioner or clinic.anna.id, **extra})


def appointments() -> int:
    return db.session.scalar(select(func.count()).select_from(Appointment))


def assert_refused(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()["error"]
    assert code in [p["code"] for p in body["problems"]]
    assert body["message"]
    problem = next(p for p in body["problems"] if p["code"] == code)
    assert problem["message"] and "session_index" in problem


def test_outside_hours(clinic, patient_api):
    saturday = monday_in(3) + timedelta(days=5)
    assert_refused(book(patient_api, clinic, at(saturday, 10)), 422, "outside_hours")
    assert_refused(book(patient_api, clinic, at(monday_in(3), 13, 15)), 422, "outside_hours")  # lunch


def test_slot_taken_is_409_and_never_overridable(clinic, patient_api, reception_api):
    start = at(monday_in(3), 10)
    assert book(patient_api, clinic, start).status_code == 201
    other = book(reception_api, clinic, start, patient_id=clinic.other_patient.id, override_reason="urgent")
    assert_refused(other, 409, "slot_taken")


def test_patient_busy_is_409(clinic, patient_api):
    start = at(monday_in(3), 10)
    assert book(patient_api, clinic, start).status_code == 201
    assert_refused(book(patient_api, clinic, start, treatment="consultation", practitioner=clinic.bruno.id),
                   409, "patient_busy")


def test_in_past_is_refused_even_for_staff(clinic, reception_api):
    yesterday = utcnow().astimezone(TZ) - timedelta(days=1)
    response = book(reception_api, clinic, yesterday, treatment="consultation",
                    patient_id=clinic.patient.id, override_reason="back-office entry")
    assert_refused(response, 422, "in_past")


def test_min_notice(clinic, patient_api):
    assert_refused(book(patient_api, clinic, utcnow() + timedelta(hours=3), treatment="consultation"),
                   422, "min_notice")


def test_beyond_horizon(clinic, patient_api):
    db.session.get(ClinicSettings, 1).horizon_days = 20
    db.session.commit()
    assert_refused(book(patient_api, clinic, at(monday_in(5), 10), treatment="consultation"), 422, "beyond_horizon")


def test_prep_window(clinic, patient_api):
    soon = utcnow().astimezone(TZ).date() + timedelta(days=3)
    while soon.weekday() >= 5:
        soon += timedelta(days=1)
    response = book(patient_api, clinic, at(soon, 10))
    assert_refused(response, 422, "prep_window")
    assert "Stop aspirin and NSAIDs" in next(
        p["message"] for p in response.get_json()["error"]["problems"] if p["code"] == "prep_window")


def test_consultation_required(clinic, client):
    api = Api(client, clinic.other_patient.email)  # has no consultation
    assert_refused(book(api, clinic, at(monday_in(3), 10)), 422, "consultation_required")


def test_interval_too_short_and_too_long(clinic, patient_api):
    first = at(monday_in(3), 10)
    for gap, code in ((7, "interval_too_short"), (28, "interval_too_long")):
        response = patient_api.post("/series", {"treatment": "mesotherapy-face", "sessions": [
            {"start": first.isoformat(), "practitioner_id": clinic.anna.id},
            {"start": (first + timedelta(days=gap)).isoformat(), "practitioner_id": clinic.anna.id}]})
        assert_refused(response, 422, code)
        assert {p["session_index"] for p in response.get_json()["error"]["problems"]} == {1}
    assert appointments() == 1  # the consultation only


def test_aftercare_conflict(clinic, patient_api):
    peel = make_treatment(slug="peel-face", name="Peel", body_area="face", protocol=dict(sessions=1), prep=[])
    clinic.anna.treatments.append(peel)
    clinic.room.treatments.append(peel)
    db.session.commit()
    assert book(patient_api, clinic, at(monday_in(3), 10)).status_code == 201
    response = book(patient_api, clinic, at(monday_in(3) + timedelta(days=1), 10), treatment="peel-face")
    assert_refused(response, 422, "aftercare_conflict")


def test_contraindicated_is_refused_and_only_a_practitioner_may_override(clinic, patient_api, reception_api):
    intake = db.session.scalar(select(Intake).where(Intake.patient_id == clinic.patient.id))
    intake.answers = {"pregnant": True}
    db.session.commit()
    assert_refused(book(patient_api, clinic, at(monday_in(3), 10)), 422, "contraindicated")
    by_reception = book(reception_api, clinic, at(monday_in(3), 10), patient_id=clinic.patient.id,
                        override_reason="she says it is fine")
    assert_refused(by_reception, 422, "contraindicated")
    assert appointments() == 1


def test_wrong_practitioner_and_wrong_room(clinic, patient_api):
    consultant = make_practitioner(treatments=[clinic.consultation])
    db.session.commit()
    assert_refused(book(patient_api, clinic, at(monday_in(3), 10), practitioner=consultant.id), 422,
                   "wrong_practitioner")
    laser = make_treatment(slug="laser", name="Laser", body_area="body", protocol=dict(sessions=1), prep=[])
    clinic.anna.treatments.append(laser)  # Anna gives it, but no room serves it
    db.session.commit()
    assert_refused(book(patient_api, clinic, at(monday_in(3), 11), treatment="laser"), 422, "wrong_room")


def test_cancellation_cutoff_via_api(clinic, patient_api):
    appointment = book_consultation(clinic, clinic.patient, utcnow() + timedelta(hours=5), status="booked")
    assert_refused(patient_api.post(f"/appointments/{appointment.id}/cancel", {}), 422, "cancellation_cutoff")


def test_a_patient_gets_every_problem_at_once(clinic, client):
    api = Api(client, clinic.other_patient.email)
    late_evening_soon = utcnow().astimezone(TZ).date() + timedelta(days=2)
    response = book(api, clinic, at(late_evening_soon, 22))
    assert response.status_code == 422
    assert {"outside_hours", "prep_window", "consultation_required"} <= set(codes(response))


def test_staff_override_needs_a_reason_and_is_audited(clinic, reception_api):
    first = at(monday_in(3), 10)
    sessions = [{"start": first.isoformat(), "practitioner_id": clinic.anna.id},
                {"start": (first + timedelta(days=7)).isoformat(), "practitioner_id": clinic.anna.id}]
    payload = {"treatment": "mesotherapy-face", "patient_id": clinic.patient.id, "sessions": sessions}
    refused = reception_api.post("/series", payload)
    assert_refused(refused, 422, "interval_too_short")
    assert "override_reason" in refused.get_json()["error"]["message"]
    blank = reception_api.post("/series", {**payload, "override_reason": "   "})
    assert blank.status_code == 422
    done = reception_api.post("/series", {**payload, "override_reason": "Patient travels in week 3"})
    assert done.status_code == 201, done.get_json()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "series.booked")).one()
    assert event.reason == "Patient travels in week 3" and event.actor_id == clinic.receptionist.id
    assert event.after["overridden"] == ["interval_too_short"]
    stored = db.session.scalars(select(Appointment.override_reason).where(Appointment.series_id.is_not(None))).all()
    assert stored == ["Patient travels in week 3"] * 2


# --- roles --------------------------------------------------------------------------------
def test_a_patient_cannot_read_or_change_another_patients_appointment(clinic, client, patient_api):
    theirs = book_consultation(clinic, clinic.other_patient, at(monday_in(3), 15), status="booked")
    for response in (
        patient_api.get(f"/appointments/{theirs.id}"),
        patient_api.get(f"/appointments/{theirs.id}/invite.ics"),
        patient_api.patch(f"/appointments/{theirs.id}", {"start": at(monday_in(3), 16).isoformat()}),
        patient_api.post(f"/appointments/{theirs.id}/cancel", {}),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    listed = patient_api.get("/appointments").get_json()
    assert {a["patient_id"] for a in listed} == {clinic.patient.id}
    db.session.refresh(theirs)
    assert theirs.status == "booked" and theirs.start_at == at(monday_in(3), 15)
    forged = book(patient_api, clinic, at(monday_in(3), 11), treatment="consultation",
                  patient_id=clinic.other_patient.id)
    assert forged.status_code == 403


def test_a_practitioner_reads_the_calendar_but_changes_nothing(clinic, client):
    api = Api(client, clinic.practitioner_user.email)
    existing = book_consultation(clinic, clinic.other_patient, at(monday_in(3), 15), status="booked")
    assert api.get("/appointments?start=%s&end=%s" % (monday_in(3), monday_in(3))).get_json()[0]["id"] == existing.id
    assert api.get(f"/appointments/{existing.id}").status_code == 200
    assert book(api, clinic, at(monday_in(3), 10), treatment="consultation",
                patient_id=clinic.patient.id).status_code == 403
    assert api.patch(f"/appointments/{existing.id}", {"start": at(monday_in(3), 16).isoformat()}).status_code == 403
    assert api.post(f"/appointments/{existing.id}/cancel", {}).status_code == 403


def test_reception_books_for_a_named_patient_only(clinic, reception_api):
    missing = book(reception_api, clinic, at(monday_in(3), 10), treatment="consultation")
    assert missing.status_code == 400 and missing.get_json()["error"]["code"] == "patient_required"
    staff = make_user(role="receptionist")
    db.session.commit()
    not_patient = book(reception_api, clinic, at(monday_in(3), 10), treatment="consultation", patient_id=staff.id)
    assert not_patient.status_code == 400
    ok = book(reception_api, clinic, at(monday_in(3), 10), treatment="consultation", patient_id=clinic.patient.id)
    assert ok.status_code == 201 and ok.get_json()["patient_id"] == clinic.patient.id


def test_feed_urls_are_secret_revocable_and_scoped(clinic, client, patient_api, reception_api):
    own = patient_api.post("/feeds", {"scope": "patient"})
    assert own.status_code == 201
    url = own.get_json()["url"]
    assert url.endswith(".ics") and len(url.rsplit("/", 1)[1]) >= 32
    assert patient_api.post("/feeds", {"scope": "clinic"}).status_code == 403
    assert patient_api.post("/feeds", {"scope": "patient", "id": clinic.other_patient.id}).status_code == 403
    clinic_feed = reception_api.post("/feeds", {"scope": "clinic"})
    assert clinic_feed.status_code == 201
    assert patient_api.delete(f"/feeds/{clinic_feed.get_json()['id']}").status_code == 404
    assert patient_api.delete(f"/feeds/{own.get_json()['id']}").status_code == 204
    assert reception_api.post("/feeds", {"scope": "room", "id": 999}).status_code == 404


@pytest.mark.parametrize("payload, field", [
    ({"treatment": "consultation", "start": "2030-01-07T10:00:00", "practitioner_id": 1}, "start"),
    ({"treatment": "consultation", "start": "tomorrow", "practitioner_id": 1}, "start"),
    ({"treatment": "consultation", "start": "2030-01-07T10:00:00+01:00", "practitioner_id": "x"}, "practitioner_id"),
    ({"treatment": "consultation", "start": "2030-01-07T10:00:00+01:00", "practitioner_id": 1, "extra": 1}, "extra"),
    ({"start": "2030-01-07T10:00:00+01:00", "practitioner_id": 1}, "treatment"),
])
def test_bad_input_is_a_400_naming_the_field(clinic, patient_api, payload, field):
    response = patient_api.post("/appointments", payload)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["message"]
    assert appointments() == 1


def test_unknown_treatment_and_practitioner_are_400(clinic, patient_api):
    assert book(patient_api, clinic, at(monday_in(3), 10), treatment="botox").status_code == 400
    response = book(patient_api, clinic, at(monday_in(3), 10), practitioner=9999)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "unknown_practitioner"
