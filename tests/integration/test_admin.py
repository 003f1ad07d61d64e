"""Administration: schedule changes list the bookings they strand; settings, catalogue and users
are audited with before/after; bad input gets a message and writes nothing; audit log, outbox
and erasure requests."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import (
    Appointment,
    AuditEvent,
    ClinicSettings,
    OutboxMessage,
    Practitioner,
    Treatment,
    User,
    WorkingHours,
)
from booking.models.base import utcnow
from tests.integration.clinic import PASSWORD, at, build_clinic, monday_in


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, user):
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def events(action: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def face_at(clinic, start, practitioner=None, patient=None) -> Appointment:
    appointment = Appointment(patient_id=(patient or clinic.patient).id,
                              practitioner_id=(practitioner or clinic.anna).id, room_id=clinic.room.id,
                              treatment_id=clinic.face.id, status="booked")
    appointment.place(start, 30, 0, 10)
    db.session.add(appointment)
    db.session.commit()
    return appointment


def week_form(**days):
    """Mon-Fri 09:00-17:00 with lunch, overridden per "hours_0"-style key."""
    form = {f"hours_{d}": "09:00-17:00" for d in range(5)} | {f"breaks_{d}": "13:00-14:00" for d in range(5)}
    return form | days


def test_editing_hours_that_strand_an_appointment_lists_it(client, clinic):
    monday = monday_in(3)
    stranded = face_at(clinic, at(monday, 10))
    kept = face_at(clinic, at(monday + timedelta(days=1), 10))
    login(client, clinic.admin)
    response = client.post(f"/admin/practitioners/{clinic.anna.id}/hours", data=week_form(hours_0="14:00-18:00"),
                           follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "1 booked appointment(s) are now outside the schedule" in page
    assert "Rebook these: 1 booked appointment outside the schedule" in page
    assert "Paola Patient" in page and "outside the practitioner" in page
    assert f"focus={stranded.id}" in page and f"focus={kept.id}" not in page
    assert f"/reception?date={monday.isoformat()}" in page
    db.session.rollback()
    assert db.session.get(Appointment, stranded.id).status == "booked"  # listed, not silently changed
    event = events("schedule.hours_changed")[0]
    assert event.before["hours"]["mon"] == ["09:00-17:00"] and event.after["hours"]["mon"] == ["14:00-18:00"]
    assert event.actor_id == clinic.admin.id
    # The practitioner's forms show what is stored: her treatments ticked, her hours filled in.
    boxes = re.findall(r'<input[^>]*name="treatments"[^>]*>', page)
    assert len(boxes) == 2 and all("checked" in box for box in boxes)
    assert 'value="14:00-18:00"' in page
    # The overview lists it too, until it is rebooked.
    assert "Rebook these" in client.get("/admin").get_data(as_text=True)


def test_bad_hours_get_a_message_and_change_nothing(client, clinic):
    login(client, clinic.admin)
    for bad, message in (("9-5", "is not a period"), ("17:00-09:00", "ends before it starts"),
                         ("09:00-13:00, 12:00-15:00", "overlap"), ("25:00-26:00", "not a time of day")):
        response = client.post(f"/admin/practitioners/{clinic.anna.id}/hours", data=week_form(hours_1=bad))
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    db.session.rollback()
    assert [(h.start_time, h.end_time) for h in db.session.scalars(
        select(WorkingHours).where(WorkingHours.practitioner_id == clinic.anna.id, WorkingHours.weekday == 1))] \
        == [(time(9), time(17))]
    assert events("schedule.hours_changed") == []


def test_time_off_exceptions_and_closures_list_what_they_strand(client, clinic):
    monday = monday_in(3)
    anna_monday = face_at(clinic, at(monday, 10))
    bruno_tuesday = face_at(clinic, at(monday + timedelta(days=1), 11), practitioner=clinic.bruno,
                            patient=clinic.other_patient)
    login(client, clinic.admin)
    page = client.post(f"/admin/practitioners/{clinic.anna.id}/time-off",
                       data={"off-start": f"{monday}T08:00", "off-end": f"{monday}T12:00", "off-reason": "Dentist"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Rebook these: 1" in page and "The practitioner is away" in page
    page = client.post(f"/admin/practitioners/{clinic.bruno.id}/exceptions",
                       data={"day": (monday + timedelta(days=1)).isoformat(), "note": "Conference"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Rebook these: 1" in page and "Otto Other" in page
    bad = client.post(f"/admin/practitioners/{clinic.bruno.id}/exceptions",
                      data={"day": monday.isoformat(), "start": "10:00"})
    assert bad.status_code == 400 and "Give both times" in bad.get_data(as_text=True)
    page = client.post(f"/admin/rooms/{clinic.room.id}/closures",
                       data={"closure-start": f"{monday}T00:00", "closure-end": f"{monday}T23:00"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Rebook these: 2" in page and "room for this treatment is closed" in page  # and Bruno's day off
    boxes = re.findall(r'<input[^>]*name="treatments"[^>]*>', page)
    assert [("checked" in box) for box in boxes] == [False, True]  # serves the face treatment only
    page = client.post("/admin/closures", data={"closure-start": f"{monday}T00:00",
                                                "closure-end": f"{monday + timedelta(days=2)}T00:00",
                                                "closure-reason": "Holiday"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Rebook these: 2" in page
    bad = client.post("/admin/closures", data={"closure-start": f"{monday}T10:00", "closure-end": f"{monday}T09:00"})
    assert bad.status_code == 400 and "end must be after the start" in bad.get_data(as_text=True)
    assert {e.action for e in db.session.scalars(select(AuditEvent))} >= {
        "schedule.time_off_added", "schedule.exception_added", "schedule.room_closed", "schedule.clinic_closed"}
    # Removing the time off again is audited with what was removed.
    off = clinic.anna.time_off[0] if db.session.get(Practitioner, clinic.anna.id).time_off else None
    response = client.post(f"/admin/schedule/time_off/{off.id}/delete")
    assert response.headers["Location"].endswith(f"/admin/practitioners/{clinic.anna.id}")
    assert events("schedule.time_off_removed")[0].before["reason"] == "Dentist"
    assert db.session.get(Appointment, anna_monday.id).status == "booked"
    assert db.session.get(Appointment, bruno_tuesday.id).status == "booked"


def test_settings_are_validated_and_audited(client, clinic):
    login(client, clinic.admin)
    form = {"name": "Villa Nuova", "timezone": "Europe/Rome", "phone": "+39 06 1", "email": "desk@example.com",
            "address": "", "horizon_days": "120", "min_notice_hours": "12", "cancel_cutoff_hours": "24",
            "slot_step_minutes": "15", "reminder_hours": "48", "primary_color": "#224466"}
    bad = client.post("/admin/settings", data=form | {"timezone": "Mars/Olympus", "horizon_days": "0",
                                                      "primary_color": "blue"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Not a valid choice" in text and "Use a colour like" in text and "Number must be between" in text
    assert count(AuditEvent, AuditEvent.action == "settings.changed") == 0
    assert db.session.get(ClinicSettings, 1).name == "Test Clinic"
    assert client.post("/admin/settings", data=form).status_code == 302
    db.session.rollback()
    assert db.session.get(ClinicSettings, 1).horizon_days == 120
    event = events("settings.changed")[0]
    assert event.before["name"] == "Test Clinic" and event.after["name"] == "Villa Nuova"
    assert event.after["show_treatment_in_invites"] is False


def test_treatments_protocols_and_prep_rules(client, clinic):
    login(client, clinic.admin)
    form = {"slug": "peel-face", "name": "Chemical peel", "kind": "treatment", "body_area": "face",
            "duration_minutes": "45", "buffer_before_minutes": "0", "buffer_after_minutes": "15", "needs_room": "y",
            "color": "#aa3355", "active": "y", "sessions": "3", "interval_min_days": "20",
            "interval_target_days": "28", "interval_max_days": "35",
            "consultation_treatment_id": str(clinic.consultation.id),
            "consultation_min_days_before": "1", "consultation_valid_days": "180", "aftercare_hours": "48",
            "contraindications": ["pregnant", "keloids"]}
    bad = client.post("/admin/treatments/new", data=form | {"interval_min_days": "30", "slug": "Bad Slug"})
    assert bad.status_code == 400 and "lower-case letters" in bad.get_data(as_text=True)
    bad = client.post("/admin/treatments/new", data=form | {"interval_min_days": "30"})
    assert "minimum ≤ target ≤ maximum" in bad.get_data(as_text=True)
    taken = client.post("/admin/treatments/new", data=form | {"slug": "mesotherapy-face"})
    assert "already uses the slug" in taken.get_data(as_text=True)
    assert count(Treatment) == 2
    response = client.post("/admin/treatments/new", data=form)
    assert response.status_code == 302
    peel = db.session.scalars(select(Treatment).where(Treatment.slug == "peel-face")).one()
    assert peel.protocol.sessions == 3 and peel.protocol.contraindications == ["pregnant", "keloids"]
    bad_prep = client.post(f"/admin/treatments/{peel.id}/prep", data={"instruction": "", "lead_hours": "-1"})
    assert bad_prep.status_code == 400 and "Number must be between 0 and 2160" in bad_prep.get_data(as_text=True)
    client.post(f"/admin/treatments/{peel.id}/prep", data={"instruction": "No retinol", "lead_hours": "72",
                                                           "remind": "y"})
    db.session.rollback()
    assert [r.instruction for r in db.session.get(Treatment, peel.id).protocol.prep_rules] == ["No retinol"]
    response = client.post(f"/admin/treatments/{peel.id}", data=form | {"duration_minutes": "50"})
    assert response.status_code == 302
    saved = events("catalog.treatment_saved")
    assert saved[-1].before["duration_minutes"] == 45 and saved[-1].after["duration_minutes"] == 50
    assert len(events("catalog.prep_rule_added")) == 1


def test_users_and_roles(client, clinic):
    login(client, clinic.admin)
    form = {"name": "Pia Nuova", "email": "pia@example.com", "phone": "", "role": "receptionist", "active": "y",
            "password": "a-long-password"}
    assert client.post("/admin/users/new", data=form | {"password": "short"}).status_code == 400
    assert "already uses this e-mail" in client.post("/admin/users/new", data=form | {
        "email": "RITA@example.com"}).get_data(as_text=True)
    response = client.post("/admin/users/new", data=form)
    assert response.status_code == 302
    pia = db.session.scalars(select(User).where(User.email == "pia@example.com")).one()
    response = client.post(f"/admin/users/{pia.id}", data=form | {"role": "practitioner", "password": ""})
    assert response.status_code == 302
    db.session.rollback()
    assert db.session.get(User, pia.id).practitioner is not None
    assert events("user.saved")[-1].before["role"] == "receptionist"
    assert all("password" not in (e.after or {}) for e in events("user.saved"))
    own = client.post(f"/admin/users/{clinic.admin.id}", data=form | {"email": clinic.admin.email,
                                                                       "role": "receptionist", "password": ""})
    assert "cannot remove your own administrator access" in own.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(User, clinic.admin.id).role == "admin"


def test_audit_log_filters(client, clinic):
    login(client, clinic.admin)
    client.post(f"/admin/practitioners/{clinic.anna.id}/hours", data=week_form())
    client.post("/logout")
    login(client, clinic.receptionist)
    page = client.get(f"/admin/audit?actor={clinic.admin.id}").get_data(as_text=True)
    assert "schedule.hours_changed" in page
    page = client.get(f"/admin/audit?actor={clinic.receptionist.id}").get_data(as_text=True)
    assert "schedule.hours_changed" not in page and "No events match" in page
    today = utcnow().date()
    span = f"first_day={today - timedelta(days=1)}&last_day={today + timedelta(days=1)}"
    assert "schedule.hours_changed" in client.get(f"/admin/audit?{span}").get_data(as_text=True)
    bad = client.get(f"/admin/audit?first_day={today}&last_day={today - timedelta(days=3)}")
    assert bad.status_code == 400 and "end date is before the start date" in bad.get_data(as_text=True)
    assert client.get("/admin/audit?appointment=abc").status_code == 400
    assert "No events match" in client.get("/admin/audit?patient=nobody-at-all").get_data(as_text=True)


def test_outbox_lists_failures_and_retries_them(client, clinic):
    failed = OutboxMessage(kind="appointment.booked", to_addr="paola@example.com", subject="Booked", body_text="x",
                           status="failed", attempts=8, last_error="550 mailbox unavailable")
    sent = OutboxMessage(kind="appointment.booked", to_addr="otto@example.com", subject="Booked", body_text="x",
                         status="sent", attempts=1, sent_at=utcnow())
    db.session.add_all([failed, sent])
    db.session.commit()
    login(client, clinic.receptionist)
    page = client.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert "550 mailbox unavailable" in page and "otto@example.com" not in page
    response = client.post(f"/admin/outbox/{failed.id}/retry", follow_redirects=True)
    assert "Queued again" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(OutboxMessage, failed.id).status == "queued"
    assert events("outbox.retried")[0].actor_id == clinic.receptionist.id
    response = client.post(f"/admin/outbox/{sent.id}/retry", follow_redirects=True)
    assert "Only a failed message can be retried" in response.get_data(as_text=True)
    assert db.session.get(OutboxMessage, sent.id).status == "sent"


def test_erasure_requests_are_confirmed_by_an_admin(client, clinic):
    patient = db.session.get(User, clinic.patient.id)
    patient.erasure_requested_at = utcnow()
    db.session.commit()
    upcoming = face_at(clinic, at(monday_in(3), 10))
    login(client, clinic.admin)
    assert "Paola Patient" in client.get("/admin").get_data(as_text=True)
    refused = client.post(f"/admin/patients/{patient.id}/erase", follow_redirects=True)
    assert "still has 1 upcoming appointment" in refused.get_data(as_text=True)
    db.session.rollback()
    row = db.session.get(Appointment, upcoming.id)
    row.status = "cancelled"
    db.session.commit()
    client.post(f"/admin/patients/{patient.id}/erase")
    db.session.rollback()
    erased = db.session.get(User, patient.id)
    assert erased.name == "Erased patient" and not erased.active and "paola" not in erased.email
    assert erased.intake is None
    assert len(events("patient.erased")) == 1
