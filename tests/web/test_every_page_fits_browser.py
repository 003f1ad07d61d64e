"""Every page a patient, a receptionist and an administrator can reach, at a phone's width (390 px)
and a desktop's (1280 px): none scrolls sideways, and axe finds nothing serious or critical.

One browser context per role and width, one page reused for all of that role's pages.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.services import changes, schedule_admin
from booking.services.actor import Actor
from tests.integration.clinic import PASSWORD, at, build_clinic, monday_in
from tests.web.conftest import VIEWPORTS, check_accessibility
from tests.web.test_reception_browser import seed_series

pytestmark = pytest.mark.slow


@pytest.fixture
def clinic(app):
    return build_clinic()


def overflow(page) -> str | None:
    """Why the current page scrolls sideways (its widest offenders), or None when it fits."""
    return page.evaluate(
        """() => {
          const width = window.innerWidth, root = document.documentElement;
          if (root.scrollWidth <= width) return null;
          const wide = [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1)
            .slice(-3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
          return `scrollWidth ${root.scrollWidth} > innerWidth ${width}; too wide: ${wide.join(', ')}`;
        }""")


def check_page(page, problems: list[str], label: str) -> None:
    """Record a sideways scroll or an axe violation on the current page under ``label``."""
    why = overflow(page)
    if why:
        problems.append(f"{label} ({page.url}) scrolls sideways at {page.viewport_size['width']} px: {why}")
    try:
        check_accessibility(page)
    except AssertionError as error:
        problems.append(f"{label} at {page.viewport_size['width']} px: {error}")


def sign_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def visit(page, problems: list[str], paths) -> None:
    """Open each path in turn and check it."""
    for path in paths:
        page.goto(path)
        if path.split("?")[0] == "/reception":  # the calendar draws itself after loading
            page.locator("#calendar .ec-body .ec-day").first.wait_for()
        check_page(page, problems, path)


def patient_pages(page, problems: list[str], clinic, appointment_id: int, booking_pages: tuple[int, int]) -> None:
    """The public pages, the booking wizard (day, times, series, change a session) and /me."""
    visit(page, problems, ["/", "/login", "/register", "/reset"])
    sign_in(page, clinic.patient.email)
    page.goto("/book/mesotherapy-face")
    check_page(page, problems, "wizard: choose a day")
    page.locator("td.has-slots a").first.click()
    check_page(page, problems, "wizard: times of a day")
    page.locator("ul.times a").first.click()
    page.locator("table.sessions").wait_for()
    check_page(page, problems, "wizard: the series step")
    page.get_by_role("link", name="Change session 2").click()
    check_page(page, problems, "wizard: change a session")
    page.go_back()
    page.get_by_label("I have read").check()
    page.get_by_role("button", name="Continue").click()
    check_page(page, problems, "wizard: review")
    visit(page, problems, ["/me", f"/me/appointments/{appointment_id}/reschedule",
                           f"/me/appointments/{appointment_id}/cancel", "/me/intake", "/me/delete", "/calendar"])
    # Booking pages (issue 13): the confirmation of the seeded series, and rebooking its cancelled last session.
    series_id, cancelled_id = booking_pages
    visit(page, problems, [f"/book/done?series={series_id}", f"/me/appointments/{cancelled_id}/rebook"])
    # The course after booking (issue 14): the course view and a session's prep checklist.
    visit(page, problems, ["/me/course", f"/me/appointments/{appointment_id}/prep"])
    # The waitlist (issue 15): the request form for a booked session and for a treatment.
    visit(page, problems, [f"/me/waitlist/new?appointment={appointment_id}", "/me/waitlist/new?treatment=consultation"])


def staff_pages(page, problems: list[str], monday, appointment_id: int, patient_id: int) -> None:
    """The receptionist's pages."""
    visit(page, problems, [f"/reception?date={monday.isoformat()}&view=week",
                           f"/reception?date={monday.isoformat()}&view=day",
                           f"/reception?date={monday.isoformat()}&by=room",
                           f"/reception?date={monday.isoformat()}&view=week&p=1",  # one practitioner's week
                           f"/reception/day-sheet?date={monday.isoformat()}",
                           f"/reception/appointments/{appointment_id}",
                           f"/reception/patients/{patient_id}",
                           "/reception/book?q=paola", f"/reception/book?patient={patient_id}", "/calendar",
                           "/reception/calls", "/reception/recalls", f"/reception/patients/{patient_id}/course",
                           "/reception/replan", "/reception/waitlist", f"/reception/waitlist?patient={patient_id}"])


ADMIN_PAGES = ("/admin", "/admin/practitioners", "/admin/practitioners/1", "/admin/rooms", "/admin/rooms/1",
               "/admin/closures", "/admin/treatments", "/admin/treatments/2", "/admin/treatments/new",
               "/admin/settings", "/admin/users", "/admin/users/1", "/admin/users/new", "/admin/audit",
               "/admin/outbox", "/admin/feeds", "/staff/mail")


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_every_page_fits_the_screen_and_passes_axe(browser, live_server, clinic, width):
    monday = monday_in(3)
    series = seed_series(clinic, at(monday, 10))
    appointment_id = min(a.id for a in series.appointments)
    last = max(series.appointments, key=lambda a: a.id)
    changes.cancel(Actor.of(clinic.patient), last.id, reason="a page to rebook it")
    # A day off strands the third session: the re-planning page and the admin's list show it.
    third = sorted(series.appointments, key=lambda a: a.series_index)[2]
    schedule_admin.add_time_off(Actor.of(clinic.admin), third.practitioner_id, start=third.start_at - timedelta(hours=1),
                                end=third.end_at + timedelta(hours=1), reason="Ill")
    problems: list[str] = []
    refused: list[str] = []  # the app's Content-Security-Policy must not block anything its own pages use
    walks = [(None, lambda page: patient_pages(page, problems, clinic, appointment_id, (series.id, last.id))),
             (clinic.receptionist.email,
              lambda page: staff_pages(page, problems, monday, appointment_id, clinic.patient.id)),
             (clinic.admin.email, lambda page: visit(page, problems, ADMIN_PAGES)),
             (clinic.practitioner_user.email, lambda page: visit(page, problems, ["/reception/my-schedule"]))]
    for email, walk in walks:  # one context per role, one page reused for all of its pages
        context = browser.new_context(viewport=VIEWPORTS[width], base_url=live_server, locale="en-GB")
        try:
            page = context.new_page()
            page.set_default_timeout(15000)
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            if email:
                sign_in(page, email)
            walk(page)
        finally:
            context.close()
    assert not refused, f"the CSP blocked part of a page: {refused}"
    assert not problems, "\n".join(problems)
