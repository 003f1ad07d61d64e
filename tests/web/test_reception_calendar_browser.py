"""Issue 13 in the reception calendar: the blocked-move dialog offers only what applies (no
override for a taken slot, no re-plan box outside a series), the "now" line follows the
clinic's clock, not the browser's zone, a tablet's week of three practitioners breaks no word
and scrolls only inside the calendar, and the practitioner chooser changes the columns."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from playwright.sync_api import expect

from booking.extensions import db
from booking.models import Appointment, WorkingHours
from booking.models.base import utcnow
from booking.scheduling.clock import to_local
from tests.integration.clinic import TZ, at, book_consultation, build_clinic, monday_in
from tests.integration.factories import make_practitioner, make_user
from tests.web.conftest import VIEWPORTS, check_accessibility
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


TABLET = {"width": 1024, "height": 768}


@pytest.fixture
def tablet(browser, live_server):
    """A tablet in landscape."""
    context = browser.new_context(viewport=TABLET, base_url=live_server, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def three_practitioners_week(clinic, monday):
    """A third practitioner with a long name, and patients with long names in everyone's column."""
    clara = make_practitioner(user=make_user(name="Clara Bellamacina-Fontanarossa", role="practitioner"),
                              treatments=[clinic.consultation, clinic.face])
    names = ["Massimiliano Bartolomeo", "Gianfrancesco Montecatini", "Mariavittoria Scarpellini"]
    for n, (day, hour, who) in enumerate([(0, 10, clinic.anna), (0, 10, clinic.bruno), (0, 10, clara),
                                          (2, 11, clinic.anna), (3, 15, clara), (4, 9, clinic.bruno)]):
        patient = make_user(name=names[n % 3], email=f"long{n}@example.com")
        row = Appointment(patient_id=patient.id, practitioner_id=who.id, room_id=None,
                          treatment_id=clinic.consultation.id, status="booked")
        row.place(at(monday + timedelta(days=day), hour), 30, 0, 0)
        db.session.add(row)
    db.session.commit()
    return clara


BROKEN_WORDS = """() => {
  // Every word of every event title and column heading: one box when it is whole (clipped or
  // not); a word wrapped mid-letter has a box on each line.
  const broken = [], styles = new Set();
  for (const el of document.querySelectorAll('#calendar .ec-event:not(.ec-bg-event) .ec-event-title, #calendar .ec-col-head')) {
    const style = getComputedStyle(el);
    styles.add(style.overflowWrap + '/' + style.wordBreak);
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g;
      let m;
      while ((m = re.exec(node.data))) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return {broken, styles: [...styles]};
}"""


def column_count(page) -> int:
    return page.locator("#calendar .ec-body .ec-grid .ec-day").count()


def test_a_tablet_week_of_three_practitioners_breaks_no_word_and_scrolls_only_inside_the_calendar(
        tablet, clinic, live_server):
    page = tablet
    monday = monday_in(3)
    three_practitioners_week(clinic, monday)
    sign_in(page, clinic.receptionist)
    open_calendar(page, monday, view="week")
    page.locator(".ec-event", has_text="Massimiliano B.").first.wait_for()
    assert column_count(page) == 21  # seven days of three practitioners
    found = page.evaluate(BROKEN_WORDS)
    assert found["broken"] == [], found
    assert found["styles"] == ["normal/normal"], found
    # What is clipped is in the tooltip: the event's full label, the practitioner's full name.
    assert page.locator('#calendar .ec-event[title="Massimiliano B. · Consultation"]').count() >= 1
    assert page.locator('#calendar .ec-col-head [title*="Clara Bellamacina-Fontanarossa"]').count() == 7
    sizes = page.evaluate("""() => {
      const main = document.querySelector('#calendar .ec-main');
      return {page: document.documentElement.scrollWidth, inner: window.innerWidth,
              scrolls: main.scrollWidth > main.clientWidth,
              narrowest: Math.min(...[...document.querySelectorAll('#calendar .ec-body .ec-grid .ec-day')]
                                   .map(d => d.getBoundingClientRect().width))};
    }""")
    assert sizes["page"] <= sizes["inner"], sizes  # the page never scrolls sideways
    assert sizes["scrolls"] and sizes["narrowest"] >= 79, sizes  # readable columns, scrolled inside the box
    check_accessibility(page)


def test_the_practitioner_chooser_changes_the_columns_and_one_practitioners_week_is_a_plain_week(
        tablet, clinic, live_server):
    page = tablet
    monday = monday_in(3)
    clara = three_practitioners_week(clinic, monday)
    sign_in(page, clinic.receptionist)
    open_calendar(page, monday, view="week")
    assert column_count(page) == 21
    page.get_by_role("checkbox", name="Clara Bellamacina-Fontanarossa").uncheck()
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_url(f"**p={clinic.bruno.id}**")
    page.locator("#calendar .ec-body .ec-day").first.wait_for()
    page.wait_for_load_state("networkidle")
    assert column_count(page) == 14
    assert f"p={clara.id}" not in page.url and "view=week" in page.url and f"date={monday}" in page.url
    expect(page.locator("#calendar .ec-col-head", has_text="Clara")).to_have_count(0)
    expect(page.get_by_role("checkbox", name="Anna Practitioner")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Clara Bellamacina-Fontanarossa")).not_to_be_checked()
    # One practitioner's week: a column per day, only her appointments.
    page.get_by_role("link", name="Clara Bellamacina-Fontanarossa").click()
    page.wait_for_url(f"**p={clara.id}**")
    page.locator("#calendar .ec-body .ec-day").first.wait_for()
    page.wait_for_load_state("networkidle")
    assert column_count(page) == 7
    expect(page.locator("#calendar .ec-event:not(.ec-bg-event)")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    check_accessibility(page)


def test_next_free_time_fills_the_start_on_the_booking_page(desktop, clinic, live_server):
    page = desktop
    monday = monday_in(2)
    taken = book_consultation(clinic, clinic.other_patient, at(monday, 9), status="booked")
    taken.practitioner_id = clinic.anna.id
    db.session.commit()
    sign_in(page, clinic.receptionist)
    page.goto(f"/reception/book?patient={clinic.patient.id}")
    page.get_by_label("Treatment").select_option("consultation")
    page.get_by_label("Start (clinic time)").fill(f"{monday.isoformat()}T09:00")
    page.get_by_label("Practitioner", exact=True).select_option(str(clinic.anna.id))
    page.get_by_role("button", name="Next free time").click()
    expect(page.locator("body")).to_contain_text("Next free time:")
    assert page.get_by_label("Start (clinic time)").input_value() == f"{monday.isoformat()}T09:30"
    check_accessibility(page)
