"""Browser tests: the app on a real HTTP server, driven by Playwright in Debian's Chromium.

Chromium is the system binary (/usr/bin/chromium, installed by .ci/run); axe-core comes from
the npm registry (node_modules, installed by `make test`). In CI (REQUIRE_POSTGRES=1) a missing
browser fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from booking.mail import rendering

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


def _require(condition: bool, message: str) -> None:
    """Skip locally, fail in CI."""
    if not condition:
        if os.environ.get("REQUIRE_POSTGRES") == "1" or os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path, sqlite_template):
    """Browser tests run on SQLite: they test the pages, the database tests cover PostgreSQL."""
    path = tmp_path / "web.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _closing(app):
    """The app with every response closed even when the browser drops the connection mid-file.

    Werkzeug's development server closes a response only when it was written out in full; a
    browser that navigates away while a static file is being sent leaves the file open until the
    garbage collector finds it, and pytest (warnings are errors here) then blames whichever test
    runs at that moment. A generator's `finally` runs as soon as the server lets go of it.
    """

    def closing_app(environ, start_response):
        response = app(environ, start_response)
        try:
            yield from response
        finally:
            if hasattr(response, "close"):
                response.close()

    return closing_app


@pytest.fixture
def live_server(app):
    """The app served over HTTP on a free port, in a thread."""
    server = make_server("127.0.0.1", 0, _closing(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    rendering.install(rendering.MailRenderer(app.config["BASE_URL"]))  # mail links to this server too
    yield app.config["BASE_URL"]
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from the system."""
    _require(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request, browser, live_server):
    """A fresh browser page at a phone's or a desktop's size."""
    context = browser.new_context(viewport=VIEWPORTS[request.param], base_url=live_server, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15000)
    refused = []  # the app's Content-Security-Policy must not block anything its own pages use
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert not refused, f"the CSP blocked part of a page: {refused}"


def check_accessibility(page) -> None:
    """Run axe-core on the current page; fail on any serious or critical violation."""
    _require(AXE.exists(), "axe-core not installed (npm install)")
    # Evaluated through the DevTools protocol, which the page's CSP does not govern: an injected
    # <script> tag would be inline script, refused by the app's policy (script-src 'self').
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"accessibility violations on {page.url}:\n" + "\n".join(bad)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def save_screenshot(page, name: str) -> Path:
    """Save a full-page screenshot for the README under docs/screenshots/<name>-<viewport>.png."""
    DOCS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    path = DOCS / f"{name}-{'phone' if width < 600 else 'desktop'}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
