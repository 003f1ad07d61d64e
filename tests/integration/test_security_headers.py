"""Issue 12, finding 9: security headers (Flask-Talisman) and no caching of private answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from booking.extensions import db
from booking.models import FeedToken
from tests.integration.clinic import PASSWORD, Api, at, book_consultation, build_clinic, monday_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, email, password=PASSWORD):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302
    return response


def csp(response) -> dict[str, str]:
    """The Content-Security-Policy as {directive: sources}."""
    header = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: " ".join(part.split()[1:]) for part in filter(None, (p.strip() for p in header.split(";")))}


@pytest.mark.parametrize("path", ["/", "/login", "/register", "/book/consultation", "/no-such-page"])
def test_every_page_carries_the_security_headers(client, clinic, path):
    response = client.get(path)
    policy = csp(response)
    assert policy.get("frame-ancestors") == "'none'"
    assert policy.get("default-src") == "'self'"
    assert policy.get("script-src") == "'self'", "no inline script, no eval"
    assert policy.get("object-src") == "'none'"
    assert policy.get("base-uri") == "'self'" and policy.get("form-action") == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # tests run over plain http


def test_hsts_only_in_production_and_only_over_https(app):
    from booking import create_app
    from config import DevelopmentConfig, ProductionConfig, TestingConfig

    assert ProductionConfig.SECURITY_HSTS is True
    assert DevelopmentConfig.SECURITY_HSTS is False and TestingConfig.SECURITY_HSTS is False
    hsts_app = create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], SECURITY_HSTS=True)
    secure = hsts_app.test_client().get("/healthz", base_url="https://book.clinic.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    plain = hsts_app.test_client().get("/healthz")
    assert "Strict-Transport-Security" not in plain.headers
    with hsts_app.app_context():
        db.engine.dispose()  # the second app's pool, closed before the database is reset


def test_one_button_pages_cannot_be_framed(client, clinic):
    appointment = book_consultation(clinic, clinic.patient, at(monday_in(3), 10), status="booked")
    login(client, clinic.patient.email)
    for path in (f"/me/appointments/{appointment.id}/cancel", "/me/delete"):
        response = client.get(path)
        assert response.status_code == 200
        assert csp(response)["frame-ancestors"] == "'none'" and response.headers["X-Frame-Options"] == "DENY"


def _no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


def test_private_pages_and_downloads_are_never_stored(client, clinic):
    appointment = book_consultation(clinic, clinic.patient, at(monday_in(3), 10), status="booked")
    login(client, clinic.patient.email)
    for path in ("/me", "/me/intake", "/calendar", "/me/data.json", f"/me/appointments/{appointment.id}.ics",
                 f"/me/appointments/{appointment.id}/reschedule", "/", "/book/consultation"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert _no_store(response), path


@pytest.mark.parametrize("role", ["receptionist", "admin", "practitioner_user"])
def test_staff_and_admin_pages_are_never_stored(client, clinic, role):
    login(client, getattr(clinic, role).email)
    paths = {"receptionist": ["/reception", "/reception/day-sheet", "/reception/api/events?start=2030-01-01&end=2030-01-08"],
             "admin": ["/admin", "/admin/users", "/admin/audit", "/admin/settings", "/admin/feeds"],
             "practitioner_user": ["/reception/my-schedule"]}[role]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert _no_store(response), path


def test_api_answers_with_personal_data_are_never_stored(client, clinic):
    api = Api(client, clinic.patient.email)
    appointment = book_consultation(clinic, clinic.patient, at(monday_in(3), 10), status="booked")
    for path in ("/appointments", f"/appointments/{appointment.id}", f"/appointments/{appointment.id}/invite.ics",
                 "/intake"):
        response = api.get(path)
        assert response.status_code == 200, path
        assert _no_store(response), path
    token = client.post("/api/v1/tokens", json={"email": clinic.patient.email, "password": PASSWORD})
    assert _no_store(token)


def test_static_files_and_feeds_keep_their_own_caching(client, clinic):
    static = client.get("/static/js/reception.js")
    assert static.status_code == 200 and not _no_store(static)
    assert static.headers["X-Content-Type-Options"] == "nosniff"
    static.close()
    api = Api(client, clinic.patient.email)
    made = api.post("/feeds", {"scope": "patient", "id": clinic.patient.id})
    assert made.status_code == 201
    feed = client.get(made.get_json()["url"].split("127.0.0.1:5000")[-1])
    assert feed.status_code == 200 and "must-revalidate" in feed.headers["Cache-Control"]
    assert db.session.query(FeedToken).count() == 1


def test_templates_hold_no_inline_script_or_event_handler():
    """The CSP allows scripts only from /static; an inline one would be blocked, so none exists."""
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        if "mail" in path.relative_to(ROOT / "templates").parts:
            continue  # e-mails are not served under the CSP (and carry no script)
        text = path.read_text()
        for match in re.finditer(r"<script\b[^>]*>", text):
            if "src=" not in match.group(0):
                offenders.append(f"{path.name}: inline <script>")
        for match in re.finditer(r"\son[a-z]+\s*=", text):
            offenders.append(f"{path.name}: event handler {match.group(0).strip()}")
        if "javascript:" in text:
            offenders.append(f"{path.name}: javascript: URL")
    assert not offenders, offenders
