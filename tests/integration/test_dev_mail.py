"""`make run` delivers mail by itself (development only), with links to the address it is served on.

The development app runs for real here: a temporary SQLite file and MAIL_DIR, served over HTTP
by werkzeug in a thread; bookings go through the JSON API. The worker tests never call the
sender: a confirmation that shows up as an .eml file was delivered by the app's own worker.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.request
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from booking import create_app, devmail
from booking.extensions import db
from booking.mail import notifications, rendering
from booking.mail.sender import DirectoryTransport, send_due
from booking.models import OutboxMessage
from booking.services.clinic import get_settings
from config import DevelopmentConfig, ProductionConfig, TestingConfig
from tests.integration.clinic import PASSWORD, at, book_consultation, build_clinic, monday_in

DELIVERY_SECONDS = 10  # "within seconds"; the worker is poked after the booking and runs at once


def _dev_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dev-mail" and t.is_alive()]


@pytest.fixture
def dev_app(tmp_path, sqlite_template):
    """The development configuration on a temporary database and mailbox, BASE_URL not set."""
    path = tmp_path / "dev.sqlite3"
    shutil.copy(sqlite_template, path)
    app = create_app(
        "development", SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", MAIL_DIR=str(tmp_path / "mail"),
        SECRET_KEY="a-test-only-secret-key-that-is-long-enough", SMTP_HOST="",
        # As DevelopmentConfig has them when the environment sets neither BASE_URL nor DEV_BACKGROUND_MAIL.
        DEV_BACKGROUND_MAIL=True, BASE_URL_FROM_REQUEST=True, BASE_URL="http://127.0.0.1:5000",
        RATELIMIT_ENABLED=False, PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
    )
    with app.app_context():
        clinic = build_clinic()
        ids = {"receptionist": clinic.receptionist.email, "patient": clinic.patient.id,
               "patient_email": clinic.patient.email, "anna": clinic.anna.id}
        db.session.remove()
    app.test_ids = ids
    yield app
    worker = devmail.worker(app)
    if worker is not None:
        worker.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def served(dev_app):
    """``dev_app`` served over HTTP on a free port; yields its address."""
    server = make_server("127.0.0.1", 0, dev_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    worker = devmail.worker(dev_app)
    if worker is not None:
        worker.stop()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _call(url: str, method: str = "GET", body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.status, json.loads(response.read() or b"{}")


def _reception_token(base: str, app) -> str:
    status, answer = _call(f"{base}/api/v1/tokens", "POST",
                           {"email": app.test_ids["receptionist"], "password": PASSWORD})
    assert status == 201
    return answer["token"]


def _book_consultation(base: str, app) -> int:
    """Book a consultation for the test patient as the receptionist, over HTTP; its id."""
    ids = app.test_ids
    status, booked = _call(f"{base}/api/v1/appointments", "POST", {
        "treatment": "consultation", "start": at(monday_in(2), 10).isoformat(),
        "practitioner_id": ids["anna"], "patient_id": ids["patient"]}, token=_reception_token(base, app))
    assert status == 201, booked
    return booked["id"]


def _wait_for_eml(folder: Path, seconds: float = DELIVERY_SECONDS) -> list[Path]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
        if files:
            return files
        time.sleep(0.1)
    return []


def test_a_booking_confirmation_reaches_the_development_mailbox_by_itself(dev_app, served):
    mail_dir = Path(dev_app.config["MAIL_DIR"])
    assert devmail.worker(dev_app) is None  # nothing runs before the app serves a request
    appointment_id = _book_consultation(served, dev_app)

    files = _wait_for_eml(mail_dir)
    assert [f.name.split("-", 1)[1] for f in files] == ["appointment.booked.eml"], files
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert str(message["To"]).strip() == dev_app.test_ids["patient_email"]
    assert str(message["Subject"]).strip().startswith("Booked: ")
    with dev_app.app_context():
        row = db.session.scalars(db.select(OutboxMessage)).one()
        assert (row.appointment_id, row.status) == (appointment_id, "sent")
    # One worker for the serving process, however many requests came.
    for _ in range(3):
        _call(f"{served}/healthz")
    assert len(_dev_threads()) == 1 and devmail.worker(dev_app).thread.is_alive()


def test_mail_links_point_at_the_address_the_app_is_served_on(dev_app, served):
    assert dev_app.config["BASE_URL"] == "http://127.0.0.1:5000"  # the default, before any request
    _book_consultation(served, dev_app)
    files = _wait_for_eml(Path(dev_app.config["MAIL_DIR"]))
    assert files
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f"{served}/me" in text and f'href="{served}/me"' in html
    assert "127.0.0.1:5000" not in text + html
    # Feeds, downloads and reset links read the same setting; the worker's reminders use the renderer.
    assert dev_app.config["BASE_URL"] == served and rendering.installed().base_url == served
    status, feed = _call(f"{served}/api/v1/feeds", "POST", {"scope": "clinic"}, token=_reception_token(served, dev_app))
    assert status == 201 and feed["url"].startswith(f"{served}/feeds/"), feed


def test_a_base_url_set_in_the_environment_is_kept(dev_app, served):
    dev_app.config["BASE_URL_FROM_REQUEST"] = False  # as DevelopmentConfig has it when BASE_URL is set
    dev_app.config["BASE_URL"] = "https://clinic.example"
    rendering.install(rendering.MailRenderer("https://clinic.example"))
    _book_consultation(served, dev_app)
    files = _wait_for_eml(Path(dev_app.config["MAIL_DIR"]))
    text = message_from_bytes(files[0].read_bytes(), policy=policy.default).get_body(
        preferencelist=("plain",)).get_content()
    assert "https://clinic.example/me" in text and served not in text


def test_cli_commands_start_no_worker(dev_app):
    with dev_app.app_context():  # as `flask` runs a command
        result = dev_app.test_cli_runner().invoke(args=["outbox", "list"])
    assert result.exit_code == 0, result.output
    assert devmail.worker(dev_app) is None and not _dev_threads()


def test_the_switch_off_starts_no_worker_but_still_follows_the_address(dev_app):
    dev_app.config["DEV_BACKGROUND_MAIL"] = False
    response = dev_app.test_client().get("/healthz", base_url="http://localhost:5123")
    assert response.status_code == 200
    assert devmail.worker(dev_app) is None and not _dev_threads()
    assert dev_app.config["BASE_URL"] == "http://localhost:5123"


def test_only_development_switches_it_on():
    if os.environ.get("DEV_BACKGROUND_MAIL") != "0":
        assert DevelopmentConfig.DEV_BACKGROUND_MAIL is True
    assert TestingConfig.DEV_BACKGROUND_MAIL is False and ProductionConfig.DEV_BACKGROUND_MAIL is False
    assert TestingConfig.BASE_URL_FROM_REQUEST is False and ProductionConfig.BASE_URL_FROM_REQUEST is False


def test_testing_never_starts_the_worker_nor_trusts_the_host(app):
    # Even with both switches forced on, only the development environment acts on them.
    app.config.update(DEV_BACKGROUND_MAIL=True, BASE_URL_FROM_REQUEST=True)
    before = app.config["BASE_URL"]
    response = app.test_client().get("/healthz", base_url="http://evil.example")
    assert response.status_code == 200
    assert devmail.worker(app) is None and not _dev_threads()
    assert app.config["BASE_URL"] == before


def test_production_never_starts_the_worker_nor_trusts_the_host(monkeypatch, tmp_path, sqlite_template):
    path = tmp_path / "p.sqlite3"
    shutil.copy(sqlite_template, path)
    monkeypatch.setenv("SECRET_KEY", "p" * 48)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("SMTP_HOST", "smtp.clinic.example")
    app = create_app("production", DEV_BACKGROUND_MAIL=True, BASE_URL_FROM_REQUEST=True,
                     BASE_URL="https://clinic.example", RATELIMIT_ENABLED=False)
    try:
        response = app.test_client().get("/healthz", base_url="http://evil.example")
        assert response.status_code == 200
        assert devmail.worker(app) is None and not _dev_threads()
        assert app.config["BASE_URL"] == "https://clinic.example"
        assert rendering.installed().base_url == "https://clinic.example"
    finally:
        with app.app_context():
            db.engine.dispose()


def test_the_development_mailbox_says_what_waits_and_shows_the_html_part_sandboxed(app, client):
    clinic = build_clinic()
    notifications.queue_registration_attempt(clinic.patient, get_settings())
    db.session.commit()
    assert client.post("/login", data={"email": clinic.admin.email, "password": PASSWORD}).status_code == 302
    page = client.get("/staff/mail").get_data(as_text=True)
    # Testing has no background worker, so the page says how mail gets out.
    assert "Waiting in the outbox: <strong>1</strong> message (run <code>flask outbox send</code>)" in page
    assert send_due(DirectoryTransport(app.config["MAIL_DIR"]), mail_from=app.config["MAIL_FROM"]).sent == 1
    assert "Nothing is waiting in the outbox." in client.get("/staff/mail").get_data(as_text=True)

    name = next(Path(app.config["MAIL_DIR"]).glob("*.eml")).name
    frames = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: frames.append(dict(attrs)) if tag == "iframe" else None
    parser.feed(client.get(f"/staff/mail/{name}").get_data(as_text=True))
    (frame,) = frames
    assert frame["sandbox"] == "" and frame["title"]  # no scripts, no forms, no same-origin access
    assert 'class="header"' in frame["srcdoc"] and "Test Clinic" in frame["srcdoc"]
    assert "<style" not in frame["srcdoc"] and 'style="' in frame["srcdoc"]


def test_the_booking_page_never_claims_mail_was_sent_and_says_when_none_will_be(app, client):
    clinic = build_clinic()
    appointment = book_consultation(clinic, clinic.patient, at(monday_in(2), 10), status="booked")
    assert client.post("/login", data={"email": clinic.patient.email, "password": PASSWORD}).status_code == 302
    page = client.get(f"/book/done?appointment={appointment.id}").get_data(as_text=True)
    assert "A confirmation with a calendar invite is on its way to paola@example.com." in page
    assert "We sent" not in page
    clinic.patient.email = None  # a patient the clinic has no address for (added by phone)
    db.session.commit()
    page = client.get(f"/book/done?appointment={appointment.id}").get_data(as_text=True)
    assert "No e-mail address on file: no confirmation is sent" in page and "on its way" not in page
