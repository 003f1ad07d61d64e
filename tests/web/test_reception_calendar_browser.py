"""Issue 13 in the reception calendar: the blocked-move dialog offers only what applies (no
override for a taken slot, no re-plan box outside a series) and the "now" line follows the
clinic's clock, not the browser's zone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.integration.clinic import at, book_consultation, build_clinic, monday_in
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
