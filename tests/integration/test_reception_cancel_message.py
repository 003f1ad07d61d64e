"""Cancelling at reception keeps the internal note inside the clinic and mails only the message
to the patient (issue 13, bug 4)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import Appointment, AuditEvent, OutboxMessage
from tests.integration.clinic import PASSWORD, at, book_consultation, build_clinic, monday_in


@pytest.fixture
def clinic(app):
    return build_clinic()


def cancel_mails():
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "appointment.cancelled")))


def test_the_internal_note_is_never_mailed_and_the_message_to_the_patient_is(client, clinic):
    one = book_consultation(clinic, clinic.patient, at(monday_in(3), 10), status="booked")
    two = book_consultation(clinic, clinic.patient, at(monday_in(3), 15), status="booked")
    assert client.post("/login", data={"email": clinic.receptionist.email, "password": PASSWORD}).status_code == 302
    panel = client.get(f"/reception/appointments/{one.id}").get_data(as_text=True)
    assert "Internal note" in panel and "the patient never sees it" in panel
    assert "Message to the patient (optional)" in panel and "Sent word for word" in panel
    client.post(f"/reception/appointments/{one.id}/cancel",
                data={"reason": "Patient phoned: flu", "patient_message": "Get well soon; call us to rebook."})
    (mail,) = cancel_mails()
    for body in (mail.body_text, mail.body_html, mail.subject, mail.ics or ""):
        assert "flu" not in body
    assert "Get well soon; call us to rebook." in mail.body_text
    assert "Get well soon; call us to rebook." in mail.body_html
    db.session.expire_all()
    assert db.session.get(Appointment, one.id).cancel_reason == "Patient phoned: flu"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.cancelled")).one()
    assert event.reason == "Patient phoned: flu"
    # Without a message the mail carries no text of ours at all.
    client.post(f"/reception/appointments/{two.id}/cancel", data={"reason": "Double booking by mistake"})
    second = [m for m in cancel_mails() if m.id != mail.id][0]
    assert "mistake" not in second.body_text and "mistake" not in second.body_html
    assert "A message from" not in second.body_text
