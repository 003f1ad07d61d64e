"""Issue 12, findings 1, 2, 10 and 13: secret links, health answers, erasure, mail headers and
discreet mail. Each test failed on the code before its fix."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.mail import notifications
from booking.mail.outbox import carries_secret_link
from booking.mail.sender import DirectoryTransport, send_due
from booking.models import (
    ApiToken,
    Appointment,
    AuditEvent,
    Base,
    ClinicSettings,
    FeedToken,
    OutboxMessage,
    Series,
)
from booking.models.access import hash_secret
from booking.models.base import utcnow
from booking.services import audit, clinic_admin, patients
from booking.services.actor import Actor
from booking.services.reminders import queue_due_reminders
from tests.integration.clinic import PASSWORD, at, build_clinic, monday_in


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, user):
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def send_all(app, tmp_path, now=None):
    """Run the development transport over the outbox, as `flask outbox send` does without SMTP."""
    return send_due(DirectoryTransport(app.config["MAIL_DIR"]), mail_from="bookings@clinic.example", now=now)


def reset_rows():
    db.session.rollback()
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "password.reset")).all()


# --- finding 1: secret links ------------------------------------------------------------------
def test_a_receptionist_cannot_read_an_admins_reset_link(app, client, clinic, tmp_path):
    client.post("/reset", data={"email": clinic.admin.email})
    assert send_all(app, tmp_path).sent == 1
    login(client, clinic.receptionist)
    assert client.get("/staff/mail").status_code == 403
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    assert client.get(f"/staff/mail/{files[0].name}").status_code == 403


def test_no_staff_page_shows_a_reset_link_and_its_body_is_cleared_once_sent(app, client, clinic, tmp_path):
    client.post("/reset", data={"email": clinic.admin.email})
    [row] = reset_rows()
    assert carries_secret_link(row.kind)
    assert send_all(app, tmp_path).sent == 1
    [row] = reset_rows()
    assert row.status == "sent" and "/reset/" not in row.body_text + row.body_html
    login(client, clinic.admin)
    name = next((tmp_path / "mail").glob("*.eml")).name
    for page in ("/staff/mail", f"/staff/mail/{name}", "/admin/outbox"):
        response = client.get(page)
        assert response.status_code == 200, page
        assert "/reset/" not in response.get_data(as_text=True), page


def test_an_unsent_reset_link_is_cleared_once_it_expires(app, client, clinic, tmp_path):
    client.post("/reset", data={"email": clinic.admin.email})
    [row] = reset_rows()
    row.status, row.last_error = "failed", "SMTPDataError: 554 no"
    db.session.commit()
    send_all(app, tmp_path, now=utcnow() + timedelta(seconds=patients.RESET_MAX_AGE + 60))
    [row] = reset_rows()
    assert "/reset/" not in row.body_text and row.status == "failed"


def test_the_development_mailbox_is_closed_outside_development(app, client, clinic):
    login(client, clinic.admin)
    app.config["BOOKING_ENV"] = "production"
    assert client.get("/staff/mail").status_code == 404
    assert client.get("/staff/mail/1-appointment.booked.eml").status_code == 404


def test_production_refuses_to_start_without_a_mail_transport(monkeypatch, tmp_path):
    from booking import create_app

    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite3'}")
    monkeypatch.delenv("SMTP_HOST", raising=False)
    with pytest.raises(RuntimeError, match="SMTP_HOST"):
        create_app("production")


# --- finding 2: health answers and erasure ----------------------------------------------------
def test_the_audit_log_records_that_a_questionnaire_changed_never_the_answers(client, clinic):
    patients.save_intake(clinic.patient.id, {"pregnant": True, "blood_thinners": True}, "on warfarin")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "intake.saved"))
    details = str(event.before) + str(event.after) + str(event.reason)
    for answer in ("pregnant", "blood_thinners", "warfarin", "True"):
        assert answer not in details
    assert event.after["rules_out"] == ["mesotherapy-face"]
    login(client, clinic.receptionist)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "intake.saved" in page and "pregnant" not in page and "blood_thinners" not in page


def test_erasure_leaves_the_patient_in_no_table(app, client, clinic):
    patient = clinic.patient
    patient.phone = "+39 333 987 6543"
    name, email, phone = patient.name, patient.email, patient.phone
    settings = db.session.scalar(select(ClinicSettings))
    past = Appointment(patient_id=patient.id, practitioner_id=clinic.anna.id, room_id=clinic.room.id,
                       treatment_id=clinic.face.id, status="cancelled",
                       cancel_reason=f"{name} phoned from {phone}")
    past.place(at(monday_in(-2), 10), 30, 0, 10)
    db.session.add(past)
    db.session.flush()
    notifications.queue_invite(past, settings, "booked")
    audit.record("appointment.cancelled", actor_id=clinic.receptionist.id, entity_type="appointment",
                 entity_id=past.id, patient_id=patient.id, reason=f"asked by {name} <{email}>",
                 after={"note": f"call {phone}"})
    db.session.add(ApiToken(user_id=patient.id, token_hash=hash_secret("api"), expires_at=utcnow() + timedelta(days=9)))
    db.session.add(FeedToken(scope="patient", target_id=patient.id, token_hash=hash_secret("feed"),
                             created_by_id=patient.id))
    db.session.commit()
    patients.save_intake(patient.id, {"pregnant": True}, f"{name} notes")
    patients.request_callback(patient.id, clinic.face.id, f"please call {phone}")
    patients.request_erasure(patient.id)

    clinic_admin.confirm_erasure(Actor(clinic.admin.id, "admin"), patient.id)

    db.session.rollback()
    found = []
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                text = str(tuple(row)).lower()
                found += [(table.name, value) for value in (name, email, phone) if value.lower() in text]
    assert found == []
    assert all(t.revoked_at is not None for t in db.session.scalars(select(ApiToken)))
    assert all(t.revoked_at is not None for t in db.session.scalars(select(FeedToken)))


# --- finding 10: line breaks in stored values -------------------------------------------------
def test_a_name_with_line_breaks_cannot_break_a_mail_header(app, clinic, tmp_path):
    clinic.patient.name = "Paola\r\nBcc: victim@example.net\nPatient"
    db.session.commit()
    patients.request_callback(clinic.patient.id, clinic.face.id, "call me")
    patients.request_erasure(clinic.patient.id)
    report = send_all(app, tmp_path)
    assert (report.sent, report.failed) == (2, 0)
    for path in (tmp_path / "mail").glob("*.eml"):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert "\n" not in mail["Subject"] and "\r" not in mail["Subject"]
        assert mail["Bcc"] is None
        assert "Paola Bcc: victim@example.net Patient" in mail["Subject"]


def test_a_message_that_failed_for_good_shows_on_the_admin_overview(client, clinic):
    db.session.add(OutboxMessage(kind="patient.callback", to_addr="clinic@example.com", subject="Call-back",
                                 body_text="x", status="failed", attempts=8, last_error="SMTPDataError: 554"))
    db.session.commit()
    login(client, clinic.admin)
    page = client.get("/admin").get_data(as_text=True)
    assert "1 message failed" in page
    assert "/admin/outbox?status=failed" in page


# --- finding 13: discreet mail ----------------------------------------------------------------
def _series(clinic):
    series = Series(patient_id=clinic.patient.id, treatment_id=clinic.face.id, status="active")
    db.session.add(series)
    db.session.flush()
    appointments = []
    for i in range(2):
        a = Appointment(patient_id=clinic.patient.id, practitioner_id=clinic.anna.id, room_id=clinic.room.id,
                        treatment_id=clinic.face.id, status="booked", series_id=series.id, series_index=i)
        a.place(at(monday_in(2 + 2 * i), 10), 30, 0, 10)
        db.session.add(a)
        appointments.append(a)
    db.session.flush()
    db.session.refresh(series)
    return series, appointments


def _patient_mail() -> str:
    db.session.flush()
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert rows
    return "\n".join(f"{m.subject}\n{m.body_text}\n{m.body_html}\n{m.ics or ''}" for m in rows)


SECRETS = ("Mesotherapy", "Stop aspirin", "No alcohol")


def test_mail_to_a_patient_names_neither_treatment_nor_prep_by_default(clinic):
    settings = db.session.scalar(select(ClinicSettings))
    series, appointments = _series(clinic)
    notifications.queue_series_confirmation(series, appointments, settings)
    notifications.queue_cancel(appointments[1], settings)
    rule = clinic.face.protocol.prep_rules[0]
    notifications.queue_prep_reminder(appointments[0], rule, settings, "prep:test")
    notifications.queue_reminder(appointments[0], settings, "reminder:test")
    text = _patient_mail()
    for secret in SECRETS:
        assert secret not in text, secret
    assert "Test Clinic" in text and "/me" in text


def test_prep_reminders_from_the_timer_are_discreet(clinic):
    settings = db.session.scalar(select(ClinicSettings))
    _series(clinic)
    db.session.execute(Appointment.__table__.update().values(created_at=utcnow() - timedelta(days=30)))
    db.session.commit()
    queue_due_reminders(now=at(monday_in(2), 10) - timedelta(days=6, hours=23))
    text = _patient_mail()
    assert "prep_reminder" in " ".join(m.kind for m in db.session.scalars(select(OutboxMessage)))
    for secret in SECRETS:
        assert secret not in text, secret
    assert settings.name in text


def test_a_clinic_that_turns_treatment_names_on_gets_them_in_mail(clinic):
    settings = db.session.scalar(select(ClinicSettings))
    settings.show_treatment_in_invites = True
    series, appointments = _series(clinic)
    notifications.queue_series_confirmation(series, appointments, settings)
    notifications.queue_prep_reminder(appointments[0], clinic.face.protocol.prep_rules[0], settings, "prep:test")
    text = _patient_mail()
    assert "Mesotherapy, face" in text and "Stop aspirin and NSAIDs" in text


def test_the_prep_steps_the_mail_leaves_out_are_on_the_signed_in_page(client, clinic):
    _series(clinic)
    db.session.commit()
    login(client, clinic.patient)
    page = client.get("/me").get_data(as_text=True)
    assert "How to prepare" in page and "Stop aspirin and NSAIDs" in page


def test_answers_in_audit_events_written_before_the_fix_are_not_shown(client, clinic):
    audit.record("intake.saved", actor_id=clinic.patient.id, entity_type="intake", entity_id=1,
                 patient_id=clinic.patient.id, before={"pregnant": False}, after={"pregnant": True})
    db.session.commit()
    login(client, clinic.receptionist)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "intake.saved" in page and "pregnant" not in page
