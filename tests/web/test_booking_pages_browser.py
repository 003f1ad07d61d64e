"""Issue 13, booking pages in a real browser: on a desktop the day calendar and its times stand side
by side; on a phone they stack and nothing scrolls sideways."""

from __future__ import annotations

import pytest

from booking.services import changes
from booking.services.actor import Actor
from tests.integration.clinic import PASSWORD, at, book_consultation, build_clinic, monday_in
from tests.web.conftest import check_accessibility
from tests.web.test_every_page_fits_browser import overflow
from tests.web.test_reception_browser import seed_series

pytestmark = pytest.mark.slow


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    clinic.face.price_cents = 18000
    return clinic


def sign_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def boxes(page):
    """The bounding boxes of the day picker and the times beside (or under) it."""
    return page.locator(".pick-calendar").bounding_box(), page.locator(".pick-times").bounding_box()


def test_the_calendar_and_its_times_side_by_side_on_a_desktop_stacked_on_a_phone(page, clinic, live_server):
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    sign_in(page, clinic.patient.email)
    first = monday_in(3)
    page.goto(f"/book/mesotherapy-face?month={first:%Y-%m}")
    page.locator("td.has-slots a").first.click()
    page.locator(".pick-times ul.times a").first.wait_for()
    calendar, times = boxes(page)
    width = page.viewport_size["width"]
    assert overflow(page) is None
    if width >= 1280:
        assert times["x"] >= calendar["x"] + calendar["width"] - 1, (calendar, times)
        assert abs(times["y"] - calendar["y"]) < 5, (calendar, times)
    else:
        assert times["y"] >= calendar["y"] + calendar["height"] - 1, (calendar, times)
    check_accessibility(page)
    assert "€180 × 4 sessions = €720" in page.locator(".booking-summary").inner_text()

    # The series, then changing session 2: a day picker of its window, that day's times beside it.
    page.locator(".pick-times ul.times a").first.click()
    page.locator("table.sessions").wait_for()
    assert overflow(page) is None
    page.get_by_role("link", name="Change session 2").click()
    calendar, times = boxes(page)
    if width >= 1280:
        assert times["x"] >= calendar["x"] + calendar["width"] - 1
    assert overflow(page) is None
    check_accessibility(page)
    offered = page.locator("td.has-slots a")
    assert 0 < offered.count() <= 12  # the window's weekdays (10-21 days after session 1)
    offered.last.click()
    assert page.locator("td.selected a").inner_text() == offered.last.inner_text()
    page.locator(".pick-times ul.times a").first.click()
    page.locator("table.sessions").wait_for()
    assert page.locator("table.sessions tbody tr").count() == 4


def test_done_portal_and_rebook_fit_a_phone_and_a_desktop(page, clinic, live_server):
    series = seed_series(clinic, at(monday_in(3), 10))
    last = max(series.appointments, key=lambda a: a.id)
    changes.cancel(Actor.of(clinic.patient), last.id, reason="test")
    sign_in(page, clinic.patient.email)
    for path in (f"/book/done?series={series.id}", "/me", f"/me/appointments/{last.id}/rebook"):
        page.goto(path)
        assert overflow(page) is None, path
        check_accessibility(page)
    assert page.locator("td.has-slots a").count() > 0
    page.locator("input[name=slot]").first.check()
    page.get_by_role("button", name="Book this time").click()
    assert "is booked again" in page.content()
    assert "0 of 4 done · 4 booked" in page.locator(".series-progress").inner_text()
