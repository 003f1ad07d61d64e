"""Issue 13 in the reception calendar: the blocked-move dialog offers only what applies (no
override for a taken slot, no re-plan box outside a series) and the "now" line follows the
clinic's clock, not the browser's zone."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from playwright.sync_api import expect

from booking.extensions import db
from booking.models import WorkingHours
from booking.models.base import utcnow
from booking.scheduling.clock import to_local
from tests.integration.clinic import TZ, at, book_consultation, build_clinic, monday_in
from tests.web.conftest import VIEWPORTS
from tests.web.test_reception_browser import open_calendar, sign_in, slot_point

pytestmark = pytest.mark.slow


@pytest.fixture
def clinic(app):
    return build_clinic()


@pytest.fixture
def desktop(browser, live_server):
    """A desktop-sized page."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"], base_url=live_server, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_moving_a_single_appointment_onto_a_taken_slot_offers_no_override_and_no_replan(desktop, clinic, live_server):
    page = desktop
    monday = monday_in(3)
    book_consultation(clinic, clinic.patient, at(monday, 10), status="booked")
    book_consultation(clinic, clinic.other_patient, at(monday, 11), status="booked")
    sign_in(page, clinic.receptionist)
    open_calendar(page, monday)
    event = page.locator(".ec-event", has_text="Otto O.")
    event.wait_for()
    x, y = slot_point(page, 1, "10:00")  # Bruno's column, onto Paola's consultation
    box = event.bounding_box()
    grab = box["y"] + 8
    page.mouse.move(box["x"] + box["width"] / 2, grab)
    page.mouse.down()
    page.mouse.move(x, y - 8, steps=12)
    page.mouse.up()
    dialog = page.locator("#move-dialog")
    dialog.wait_for(state="visible")
    expect(dialog).to_contain_text("already")
    expect(page.get_by_role("button", name="Override and move")).to_be_hidden()
    expect(page.locator("#replan-box")).to_be_hidden()
    expect(page.locator("#move-override")).to_be_hidden()
    page.get_by_role("button", name="Put it back").click()
    dialog.wait_for(state="hidden")


def test_an_overridable_move_of_a_single_appointment_has_no_replan_box(desktop, clinic, live_server):
    page = desktop
    monday = monday_in(3)
    book_consultation(clinic, clinic.other_patient, at(monday, 11), status="booked")
    sign_in(page, clinic.receptionist)
    open_calendar(page, monday)
    event = page.locator(".ec-event", has_text="Otto O.")
    event.wait_for()
    x, y = slot_point(page, 1, "08:00")  # before Bruno's hours: overridable
    box = event.bounding_box()
    grab = box["y"] + 8
    page.mouse.move(box["x"] + box["width"] / 2, grab)
    page.mouse.down()
    page.mouse.move(x, y - 8, steps=12)
    page.mouse.up()
    dialog = page.locator("#move-dialog")
    dialog.wait_for(state="visible")
    expect(page.get_by_role("button", name="Override and move")).to_be_visible()
    expect(page.locator("#replan-box")).to_be_hidden()


@pytest.mark.parametrize("browser_zone", ["America/Los_Angeles", "Asia/Tokyo"])
def test_the_now_line_follows_the_clinic_clock_in_a_browser_in_another_zone(browser, live_server, clinic,
                                                                            browser_zone):
    today = to_local(utcnow(), str(TZ)).date()
    # Anna works round the clock today, so the calendar shows every hour and the now line is on it.
    clinic.anna.hours = [WorkingHours(weekday=today.weekday(), start_time=time(0), end_time=time(23, 45))]
    db.session.commit()
    context = browser.new_context(viewport=VIEWPORTS["desktop"], base_url=live_server, locale="en-GB",
                                  timezone_id=browser_zone)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        sign_in(page, clinic.receptionist)
        open_calendar(page, today)
        line = page.locator("#calendar .ec-now-indicator")
        line.wait_for()
        minutes_on_line = page.evaluate(
            """() => {
              const cal = document.getElementById('calendar');
              const slot = parseFloat(getComputedStyle(cal.querySelector('.ec-main')).getPropertyValue('--ec-slot-height'));
              const top = cal.querySelector('.ec-body .ec-grid .ec-day').getBoundingClientRect().top;
              const [h0, m0] = cal.dataset.slotMin.split(':').map(Number);
              return h0 * 60 + m0 + (cal.querySelector('.ec-now-indicator').getBoundingClientRect().top - top) / slot * 15;
            }""")
        now = to_local(utcnow(), str(TZ))
        assert abs(minutes_on_line - (now.hour * 60 + now.minute)) < 20, (minutes_on_line, now)
    finally:
        context.close()
