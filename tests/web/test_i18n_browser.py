"""Issue 16 in a real browser: the home page and the booking wizard in Italian at 390 and 1280 px,
with no English left from the wrapped strings, nothing scrolling sideways, axe clean, and the
switcher in the footer taking the visitor back to English on the same page."""

from __future__ import annotations

import re

import pytest

from tests.integration.clinic import build_clinic
from tests.integration.test_i18n import english_fragments
from tests.web.conftest import check_accessibility, save_screenshot
from tests.web.test_every_page_fits_browser import overflow

pytestmark = pytest.mark.slow


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    clinic.face.price_cents = 18000
    return clinic


def english_left(page) -> list[str]:
    """English phrases of the catalog still on screen."""
    text = " ".join(page.locator("body").inner_text().split())
    return sorted(fragment for fragment in english_fragments() if fragment in text)


def test_home_page_and_wizard_in_italian(page, clinic, live_server):
    page.goto("/?lang=it")
    assert page.locator("html").get_attribute("lang") == "it"
    assert page.get_by_role("link", name=re.compile(r"^Prenota Consultation")).count() == 1
    assert english_left(page) == []
    assert overflow(page) is None
    check_accessibility(page)
    save_screenshot(page, "home-it")

    page.get_by_role("link", name=re.compile(r"^Prenota Consultation")).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Prenota Consultation"
    assert page.locator("table.month th").first.inner_text() == "lun"
    assert english_left(page) == []
    page.locator("td.has-slots a").first.click()
    page.locator(".pick-times ul.times a").first.wait_for()
    label = page.locator("#times-title").inner_text()
    assert label.split()[0] in {"lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"}
    assert english_left(page) == []
    assert overflow(page) is None
    check_accessibility(page)

    page.get_by_role("navigation", name="Lingua").get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Book Consultation"
    assert "day=" in page.url  # back on the same page, with the day still chosen
