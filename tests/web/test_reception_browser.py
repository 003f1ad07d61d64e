"""Reception in a real browser: book a series for a phoned-in patient from the calendar, drag a
session against the interval rule and override it with a reason (then find it in the audit log),
mark a no-show; axe on every reception and admin page; the week view's screenshot for the README."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from booking.extensions import db
from booking.models import Appointment, AuditEvent, Series, TimeOff, User
from booking.models.base import utcnow
from booking.scheduling.clock import to_local
from booking.services import booking as booking_service
from booking.services.actor import Actor
from booking.services.booking import SessionRequest
from tests.integration.clinic import PASSWORD, TZ, at, book_consultation, build_clinic, monday_in
from tests.integration.factories import make_user
from tests.web.conftest import VIEWPORTS, check_accessibility, save_screenshot

pytestmark = pytest.mark.slow


@pytest.fixture
def clinic(app):
    return build_clinic()


@pytest.fixture
def desktop(browser, live_server):
    """A desktop-sized page only (dragging across a week's columns needs the width)."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"], base_url=live_server, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def sign_in(page, user):
    page.goto("/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def open_calendar(page, day, view="day"):
    page.goto(f"/reception?date={day.isoformat()}&view={view}")
    page.locator("#calendar .ec-body .ec-day").first.wait_for()
    page.wait_for_load_state("networkidle")


def slot_point(page, column: int, hhmm: str) -> tuple[float, float]:
    """Viewport coordinates of the middle of the 15-minute slot at ``hhmm`` in a calendar column."""
    return tuple(page.evaluate(
        """([column, hhmm]) => {
          const cal = document.getElementById('calendar');
          const cellOf = () => cal.querySelectorAll('.ec-body .ec-grid .ec-day')[column].getBoundingClientRect();
          const slot = parseFloat(getComputedStyle(cal.querySelector('.ec-main')).getPropertyValue('--ec-slot-height'));
          const [h0, m0] = cal.dataset.slotMin.split(':').map(Number);
          const [h, m] = hhmm.split(':').map(Number);
          const offset = ((h * 60 + m) - (h0 * 60 + m0)) / 15 * slot + slot / 2;
          window.scrollBy(0, cellOf().top + offset - window.innerHeight / 2);
          const cell = cellOf();
          return [cell.left + cell.width / 2, cell.top + offset];
        }""", [column, hhmm]))


def seed_series(clinic, first, spacing_days=(10, 14, 14)):
    """Paola's four face sessions with Anna from ``first`` (a consultation a week before)."""
    book_consultation(clinic, clinic.patient, first - timedelta(days=7))
    starts = [first]
    for gap in spacing_days:
        starts.append(starts[-1] + timedelta(days=gap))
    return booking_service.book_series(Actor.of(clinic.receptionist), treatment_slug="mesotherapy-face",
                                       sessions=[SessionRequest(s, clinic.anna.id) for s in starts],
                                       patient_id=clinic.patient.id)


def seed_busy_week(clinic, monday):
    """A few more patients, treatments in two colours and Bruno's afternoon off: a realistic week."""
    clinic.face.color, clinic.consultation.color = "#2e7d6b", "#5b6fb5"
    db.session.add(TimeOff(practitioner_id=clinic.bruno.id, start_at=at(monday + timedelta(days=4), 14),
                           end_at=at(monday + timedelta(days=4), 17), reason="Training"))
    names = ["Giulia Verdi", "Marco Neri", "Sofia Galli", "Luca Fontana", "Elena Rizzi", "Davide Moretti"]
    slots = [(0, 9, "anna", "consultation"), (0, 15, "bruno", "face"), (1, 11, "bruno", "consultation"),
             (1, 16, "anna", "face"), (2, 9, "bruno", "face"), (3, 14, "anna", "consultation"),
             (3, 11, "bruno", "face"), (4, 10, "bruno", "consultation"), (4, 15, "anna", "face")]
    for n, (day, hour, who, what) in enumerate(slots):
        patient = make_user(name=names[n % len(names)], email=f"week{n}@example.com")
        treatment = clinic.face if what == "face" else clinic.consultation
        appointment = Appointment(patient_id=patient.id, practitioner_id=getattr(clinic, who).id,
                                  room_id=clinic.room.id if what == "face" else None, treatment_id=treatment.id,
                                  status="booked")
        appointment.place(at(monday + timedelta(days=day), hour), treatment.duration_minutes, 0,
                          treatment.buffer_after_minutes)
        db.session.add(appointment)
    db.session.commit()


def test_reception_books_a_series_for_a_phoned_in_patient(page, clinic, live_server):
    monday = monday_in(3)
    sign_in(page, clinic.receptionist)
    open_calendar(page, monday)
    check_accessibility(page)
    x, y = slot_point(page, 0, "10:00")  # Anna's column
    page.mouse.click(x, y)
    page.wait_for_url("**/reception/book?**")
    assert f"practitioner={clinic.anna.id}" in page.url
    check_accessibility(page)
    page.get_by_label("Full name").fill("Nina Telefono")
    page.get_by_label("E-mail", exact=True).fill("nina.telefono@example.com")
    page.get_by_label("Phone", exact=True).fill("+39 333 7654321")
    page.get_by_role("button", name="Add patient").click()
    expect(page.locator("body")).to_contain_text("Added Nina Telefono")
    assert page.get_by_label("Start (clinic time)").input_value() == f"{monday.isoformat()}T10:00"
    page.get_by_label("Treatment").select_option("mesotherapy-face")
    page.get_by_label("The whole series").check()
    page.get_by_role("button", name="Plan the series").click()
    expect(page.locator("table.sessions tbody tr")).to_have_count(4)
    # A new patient has had no consultation: staff may override that with a reason.
    expect(page.locator("body")).to_contain_text("This treatment needs a consultation first")
    check_accessibility(page)
    page.get_by_label("Session 3 start").fill(f"{(monday + timedelta(days=29)).isoformat()}T11:00")
    page.get_by_label("Override reason").fill("Consultation done at the partner clinic")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.locator("body")).to_contain_text("Booked 4 sessions for Nina Telefono")
    db.session.rollback()
    nina = db.session.scalars(select(User).where(User.email == "nina.telefono@example.com")).one()
    series = db.session.scalars(select(Series).where(Series.patient_id == nina.id)).one()
    starts = [to_local(a.start_at, str(TZ)) for a in series.appointments]
    assert starts[0] == at(monday, 10) and starts[2] == at(monday + timedelta(days=29), 11)
    assert {a.override_reason for a in series.appointments} == {"Consultation done at the partner clinic"}
    page.locator(".ec-event", has_text="Nina T. · face 1/4").wait_for()


def test_drag_against_the_interval_rule_is_overridden_with_a_reason_and_audited(desktop, clinic, live_server):
    page = desktop
    monday = monday_in(3)
    series = seed_series(clinic, at(monday, 10))  # session 2 on Thursday of the next week, 10 days later
    second = series.appointments[1]
    book_consultation(clinic, clinic.other_patient, at(monday + timedelta(days=8), 15), status="booked")
    seed_busy_week(clinic, monday + timedelta(days=7))
    sign_in(page, clinic.receptionist)
    open_calendar(page, monday + timedelta(days=7), view="week")
    event = page.locator(".ec-event", has_text="Paola P. · face 2/4")
    event.wait_for()
    save_screenshot(page, "reception-week")
    check_accessibility(page)
    # Thursday is day 3 of the week; drag to Wednesday (day 2) in Anna's column (two columns a day),
    # at the same height, so the same time.
    x, _ = slot_point(page, 2 * 2, "10:00")
    box = event.bounding_box()
    grab = box["y"] + 8
    page.mouse.move(box["x"] + box["width"] / 2, grab)
    page.mouse.down()
    page.mouse.move(x, grab, steps=12)
    page.mouse.up()
    dialog = page.locator("#move-dialog")
    dialog.wait_for(state="visible")
    assert "between sessions" in dialog.inner_text() and "interval_too_short" not in dialog.inner_text()
    check_accessibility(page)
    page.get_by_role("button", name="Override and move").click()
    expect(page.locator("#override-error")).to_be_visible()  # a reason is required
    page.get_by_label("Reason for overriding (required)").fill("Patient flies out on Thursday")
    page.get_by_role("button", name="Override and move").click()
    dialog.wait_for(state="hidden")
    page.wait_for_load_state("networkidle")
    db.session.rollback()
    moved = db.session.get(Appointment, second.id)
    assert to_local(moved.start_at, str(TZ)) == at(monday + timedelta(days=9), 10)
    assert moved.override_reason == "Patient flies out on Thursday"
    # The panel and the audit log show the override.
    page.locator(".ec-event", has_text="Paola P. · face 2/4").click()
    page.locator("#panel").get_by_text("Patient flies out on Thursday").wait_for()
    check_accessibility(page)
    page.locator("#panel").get_by_role("link", name="History of this appointment").click()
    row = page.locator("ol.audit > li", has_text="appointment.moved")
    assert "Patient flies out on Thursday" in row.inner_text() and "interval_too_short" in row.inner_text()
    check_accessibility(page)
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.moved")).one().reason \
        == "Patient flies out on Thursday"


def test_reception_marks_a_no_show(page, clinic, live_server):
    missed = book_consultation(clinic, clinic.patient, utcnow() - timedelta(hours=1), status="booked")
    day = to_local(missed.start_at, str(TZ)).date()
    sign_in(page, clinic.receptionist)
    page.goto(f"/reception?date={day.isoformat()}&view=day&focus={missed.id}")  # as the stranded lists link
    panel = page.locator("#panel")
    panel.get_by_role("button", name="No-show").wait_for()
    check_accessibility(page)
    panel.get_by_role("button", name="No-show").click()
    expect(page.locator("body")).to_contain_text("Marked as no-show")
    db.session.rollback()
    assert db.session.get(Appointment, missed.id).status == "no_show"
    page.goto(f"/reception/day-sheet?date={day.isoformat()}")
    expect(page.locator("body")).to_contain_text("no show")
    check_accessibility(page)


ADMIN_PAGES = ("/admin", "/admin/practitioners", "/admin/practitioners/1", "/admin/rooms", "/admin/rooms/1",
               "/admin/closures", "/admin/treatments", "/admin/treatments/2", "/admin/treatments/new",
               "/admin/settings", "/admin/users", "/admin/users/1", "/admin/audit", "/admin/outbox",
               "/reception?by=room", "/reception/book?q=paola")


def test_admin_and_reception_pages_pass_axe(desktop, clinic, live_server):
    seed_series(clinic, at(monday_in(3), 10))
    sign_in(desktop, clinic.admin)
    for path in ADMIN_PAGES:
        desktop.goto(path)
        if path.startswith("/reception?"):
            desktop.locator("#calendar .ec-body .ec-day").first.wait_for()
        check_accessibility(desktop)
    # A form with errors passes too.
    desktop.goto(f"/admin/practitioners/{clinic.anna.id}")
    desktop.get_by_label("Monday hours").fill("9 to 5")
    desktop.get_by_role("button", name="Save weekly hours").click()
    expect(desktop.locator("body")).to_contain_text("is not a period")
    check_accessibility(desktop)
    desktop.get_by_role("button", name="Sign out").click()
    sign_in(desktop, clinic.practitioner_user)
    desktop.goto("/reception/my-schedule")
    check_accessibility(desktop)
