"""One patient's course in a real browser (issue 14): consultation, a series, the prep checklist
from the message's link (one step not done: times that leave enough time to prepare), the
sessions given, and the maintenance proposal booked in one tap; at 390 px and 1280 px, with
screenshots of the course view and the checklist."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import Appointment, OutboxMessage, Recall
from booking.models.course import AftercareRule
from booking.services import course, reception
from booking.services import booking as booking_service
from booking.services.actor import Actor
from booking.services.booking import SessionRequest
from tests.integration.clinic import PASSWORD, TZ, at, book_consultation, build_clinic, monday_in
from tests.web.conftest import check_accessibility, save_screenshot
from tests.web.test_every_page_fits_browser import overflow

pytestmark = pytest.mark.slow


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    protocol = clinic.face.protocol
    protocol.prep_confirm_hours, protocol.prep_answer_by_hours = 72, 24
    protocol.maintenance_interval_days = 60
    protocol.aftercare_rules = [AftercareRule(instruction="No sauna or swimming", hours=48)]
    db.session.commit()
    return clinic


def sign_in(page, email):
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_one_patient_from_consultation_to_maintenance(page, clinic, live_server):
    first = at(monday_in(2), 10)
    book_consultation(clinic, clinic.patient, first - timedelta(days=7))
    sessions = [SessionRequest(first + timedelta(days=21 * i), clinic.anna.id) for i in range(4)]
    series = booking_service.book_series(Actor.of(clinic.receptionist), treatment_slug="mesotherapy-face",
                                         sessions=sessions, patient_id=clinic.patient.id)
    session_one = series.appointments[0]

    # Three days before session 1 the patient gets the prep check; its link needs no sign-in.
    course.queue_prep_checks(session_one.start_at - timedelta(hours=70))
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "prep.confirm")).one()
    link = re.search(r"https?://[^\s]+/prep/[A-Za-z0-9_-]+", message.body_text).group(0)
    page.goto(link)
    assert "Are you ready for your session?" in page.content()
    check_accessibility(page)
    assert overflow(page) is None
    save_screenshot(page, "prep-checklist")
    page.get_by_role("group", name=re.compile("Stop aspirin")).get_by_label("Not done / not sure").check()
    page.get_by_role("group", name=re.compile("No alcohol")).get_by_label("Done", exact=True).check()
    page.get_by_role("button", name="Send my answers").click()
    assert "Times that leave enough time to prepare" in page.content()
    check_accessibility(page)
    page.goto(link)  # the link worked once
    assert "used already" in page.content()

    # Reception sees the flag on the call list.
    desk = page.context.browser.new_context(viewport=page.viewport_size, base_url=live_server).new_page()
    sign_in(desk, clinic.receptionist.email)
    desk.goto("/reception/calls")
    assert "Not prepared" in desk.content() and "Paola Patient" in desk.content()
    check_accessibility(desk)

    # The patient's course view.
    sign_in(page, clinic.patient.email)
    page.goto("/me/course")
    assert page.locator(".course-sessions li").count() == 4
    assert "not prepared" in page.locator(".course-sessions li").first.inner_text()
    check_accessibility(page)
    assert overflow(page) is None
    save_screenshot(page, "course-view")

    # The sessions are given; the last one puts the patient on the recall list.
    for appointment in series.appointments:
        reception.change_status(Actor.of(clinic.receptionist), appointment.id, "complete", now=appointment.end_at)
    recall = db.session.scalars(select(Recall)).one()
    desk.goto("/reception/recalls")
    assert "Paola Patient" in desk.content()
    check_accessibility(desk)
    assert overflow(desk) is None
    page.goto(f"/me/maintenance/{recall.id}")
    assert "maintenance" in page.content()
    check_accessibility(page)
    assert overflow(page) is None
    page.get_by_role("button", name=re.compile("^Book")).click()
    page.wait_for_load_state()
    assert "Booked" in page.content()
    db.session.rollback()  # read what the server committed
    assert db.session.get(Recall, recall.id).status == "booked"
    booked = db.session.scalars(select(Appointment).where(Appointment.series_id.is_(None),
                                                          Appointment.treatment_id == clinic.face.id)).one()
    assert booked.status == "booked"
    page.goto("/me/course")
    assert "Maintenance: " + booked.start_at.astimezone(TZ).strftime("%a %d %b %Y, %H:%M") in page.content()
    check_accessibility(page)
    desk.context.close()
