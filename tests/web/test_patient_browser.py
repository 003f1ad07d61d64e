"""A patient books, at a phone's width and a desktop's, in a real browser; every page passes axe."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from booking.extensions import db
from booking.models import Appointment, Series
from booking.models.base import utcnow
from tests.integration.clinic import PASSWORD, TZ, build_clinic
from tests.web.conftest import check_accessibility, save_screenshot

pytestmark = pytest.mark.slow


@pytest.fixture
def clinic(app):
    return build_clinic()


def pick_first_day_from(page, earliest):
    """Click the first day with free times on or after ``earliest`` (moving months as needed)."""
    for _ in range(4):
        for link in page.locator("td.has-slots a").all():
            label = link.get_attribute("aria-label")
            day = datetime.strptime(label.split(":")[0] + f" {page.locator('#month-label').inner_text().split()[-1]}",
                                    "%A %d %B %Y").date()
            if day >= earliest:
                link.click()
                return day
        page.locator(".month-nav a[rel=next]").click()
    raise AssertionError("no day with free times found")


def test_new_patient_books_a_consultation_then_a_series_and_manages_it(page, clinic, live_server):
    # Home → Book the face treatment → led to the consultation first.
    page.goto("/")
    check_accessibility(page)
    page.locator("#treatment-mesotherapy-face").get_by_role("link", name="Book").click()
    assert "starts with a consultation" in page.content()
    check_accessibility(page)
    consult_day = pick_first_day_from(page, utcnow().astimezone(TZ).date() + timedelta(days=1))
    check_accessibility(page)
    page.locator("ul.times a").first.click()
    # Register; the consultation needs no health questionnaire.
    page.get_by_label("Full name").fill("Nina Browser")
    page.get_by_label("E-mail").fill("nina.browser@example.com")
    page.get_by_label("Phone").fill("+39 333 7654321")
    page.get_by_label("Password", exact=True).fill("a-good-password")
    page.get_by_label("Repeat the password").fill("a-good-password")
    check_accessibility(page)
    page.get_by_role("button", name="Create my account").click()
    check_accessibility(page)
    page.get_by_role("button", name="Book it").click()
    assert "You are booked" in page.content()
    check_accessibility(page)

    # Later: sign out, sign in again, book the whole series.
    page.get_by_role("button", name="Sign out").click()
    page.goto("/login")
    check_accessibility(page)
    page.get_by_label("E-mail").fill("nina.browser@example.com")
    page.get_by_label("Password").fill("a-good-password")
    page.get_by_role("button", name="Sign in").click()
    page.goto("/book/mesotherapy-face")
    # Prep (7 days) and the consultation rule (2 days after it) hide earlier days.
    earliest = max(consult_day + timedelta(days=2), (utcnow() + timedelta(days=7)).astimezone(TZ).date())
    offered = [a.get_attribute("aria-label") for a in page.locator("td.has-slots a").all()]
    year = page.locator("#month-label").inner_text().split()[-1]
    for label in offered:
        day = datetime.strptime(label.split(":")[0] + f" {year}", "%A %d %B %Y").date()
        assert day >= earliest - timedelta(days=1), f"{day} breaks the prep window or consultation rule"
    pick_first_day_from(page, earliest)
    page.locator("ul.times a").first.click()
    assert page.locator("table.sessions tbody tr").count() == 4
    assert page.locator(".timeline li.tl-session").count() == 4
    check_accessibility(page)
    save_screenshot(page, "wizard-series")
    page.get_by_label("I have read what to do before each session").check()
    page.get_by_role("button", name="Continue").click()
    # The face treatment lists contraindications: the questionnaire comes first.
    check_accessibility(page)
    page.get_by_label("My answers are true and complete").check()
    page.get_by_role("button", name="Save").click()
    check_accessibility(page)
    page.get_by_role("button", name="Book all 4 sessions").click()
    assert "You are booked" in page.content()
    assert page.get_by_role("link", name="Add to calendar").count() == 4

    # The portal: progress, reschedule a session within its window, cancel the last one.
    page.goto("/me")
    check_accessibility(page)
    assert "0 of 4 done" in page.content()
    page.get_by_role("link", name="Reschedule").nth(2).click()
    check_accessibility(page)
    page.locator("input[name=slot]").first.check()
    page.get_by_role("button", name="Move it").click()
    assert "Moved." in page.content()
    page.get_by_role("link", name="Cancel").last.click()
    check_accessibility(page)
    page.get_by_role("button", name="Cancel appointment").click()
    assert "Cancelled." in page.content()
    db.session.rollback()  # end the test's read snapshot: the server wrote since
    statuses = sorted(a.status for a in db.session.query(Appointment).filter(Appointment.series_id.is_not(None)))
    assert statuses == ["booked", "booked", "booked", "cancelled"]


def test_a_slot_taken_during_the_wizard_is_handled(page, clinic, live_server):
    from tests.integration.clinic import at, book_consultation, monday_in

    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    page.goto("/login")
    page.get_by_label("E-mail").fill(clinic.patient.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    first = at(monday_in(3), 10)
    page.goto(f"/book/mesotherapy-face?month={first:%Y-%m}&day={first.date().isoformat()}&practitioner={clinic.anna.id}")
    page.get_by_role("link", name="10:00").first.click()
    page.get_by_label("I have read what to do before each session").check()
    page.get_by_role("button", name="Continue").click()
    # Someone else takes Anna's time for session 2 while the patient reads the summary.
    second = first + timedelta(days=14)
    taken = Appointment(patient_id=clinic.other_patient.id, practitioner_id=clinic.anna.id, room_id=None,
                        treatment_id=clinic.consultation.id, status="booked")
    taken.place(second, 30, 0, 0)
    db.session.add(taken)
    db.session.commit()
    page.get_by_role("button", name="Book all 4 sessions").click()
    assert "Not booked" in page.content() and "Session 2" in page.content()
    check_accessibility(page)
    db.session.rollback()
    assert db.session.query(Series).count() == 0
    page.locator("section.highlight ul.times a").first.click()
    page.get_by_role("button", name="Book all 4 sessions").click()
    assert "You are booked" in page.content()
    db.session.rollback()
    assert db.session.query(Series).count() == 1


def test_every_other_patient_page_passes_axe(page, clinic, live_server):
    from tests.integration.clinic import at, book_consultation, monday_in

    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    page.goto("/login")
    page.get_by_label("E-mail").fill(clinic.patient.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    first = at(monday_in(3), 10)
    page.goto(f"/book/mesotherapy-face?month={first:%Y-%m}&day={first.date().isoformat()}")
    check_accessibility(page)  # the month calendar with a day's times
    page.get_by_role("link", name="10:00").first.click()
    page.get_by_role("link", name="Change session 2").click()
    check_accessibility(page)  # the alternatives for one session
    assert page.locator("ul.times a").count() > 0
    for path in ("/me/intake", "/calendar", "/me/delete", "/reset"):
        page.goto(path)
        check_accessibility(page)
    page.goto("/calendar")
    page.get_by_role("button", name="Create subscription link").click()
    check_accessibility(page)  # the new link, shown once
    assert page.locator("a[href^='webcal://']").count() == 1
