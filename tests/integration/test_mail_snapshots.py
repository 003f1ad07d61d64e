"""Every kind of mail, both parts, for a fixed clinic, appointment and date, against reviewed snapshots.

The messages are queued through ``booking.mail.notifications`` (what the app sends), with
unsaved rows, and read back from the session before anything is written. Snapshots live in
``snapshots/mail/``; after an intended change, ``UPDATE_SNAPSHOTS=1 pytest <this file>`` writes
them again: review the diff before committing. The password-reset mail is not templated
(``services.patients.queue_password_reset`` writes its plain text), so it has no snapshot here.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from booking import create_app
from booking.extensions import db
from booking.mail import notifications
from booking.mail.rendering import DARK_TEXT, DEFAULT_COLOR, LIGHT_TEXT, MailRenderer, brand, contrast
from booking.models import Appointment, ClinicSettings, OutboxMessage, PrepRule, Protocol, Series, Treatment, User

SNAPSHOTS = Path(__file__).parent / "snapshots" / "mail"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
COLOR = "#7a2e4d"
BASE = "https://clinic.example"
SECRETS = ("Mesotherapy", "aspirin", "alcohol")  # the treatment and its prep steps


@pytest.fixture(scope="module")
def mail_app():
    """An app context for the outbox session; nothing is flushed, so no tables are needed."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _clinic(named: bool) -> ClinicSettings:
    return ClinicSettings(id=1, name="Villa Rosa", timezone="Europe/Rome", phone="+39 06 1234 5678",
                          email="hello@clinic.example", address="Via dei Giardini 12, 00100 Roma",
                          primary_color=COLOR, show_treatment_in_invites=named, cancel_cutoff_hours=24)


def _treatment() -> Treatment:
    treatment = Treatment(id=7, slug="mesotherapy-face", name="Mesotherapy, face", kind="treatment",
                          duration_minutes=30)
    treatment.protocol = Protocol(sessions=2, prep_rules=[
        PrepRule(id=1, instruction="Stop aspirin and NSAIDs", lead_hours=168, remind=True),
        PrepRule(id=2, instruction="No alcohol", lead_hours=24, remind=True)])
    return treatment


def _patient() -> User:
    return User(id=3, name="Anna Rossi", email="anna@example.com", role="patient")


def _appointment(treatment: Treatment, patient: User, index: int = 0) -> Appointment:
    appointment = Appointment(id=42 + index, ical_uid=f"snapshot-{42 + index}@clinic-booking", ical_sequence=1,
                              status="booked", treatment=treatment, patient=patient, series_index=index)
    # 10:00 in Rome, just after the change to summer time; the second session two weeks later.
    appointment.place(datetime(2027, 3, 30, 8, 0, tzinfo=UTC) + timedelta(days=14 * index), 30, 0, 10)
    return appointment


def _queue(kind: str, named: bool, locale: str | None = None) -> list[OutboxMessage]:
    """Queue mail of ``kind`` through the notifications module, to a patient who reads ``locale``
    (None: no saved preference); the messages it queued."""
    settings, treatment, patient, mail = _clinic(named), _treatment(), _patient(), MailRenderer(BASE)
    patient.locale = locale
    appointment = _appointment(treatment, patient)
    if kind == "booked" or kind == "moved":
        notifications.queue_invite(appointment, settings, kind, mail=mail)
    elif kind == "cancelled":
        appointment.status = "cancelled"
        notifications.queue_cancel(appointment, settings, mail=mail,
                                   patient_message="We are sorry: the doctor is ill. Please call us to rebook.")
    elif kind == "series_booked":
        series = Series(id=5, treatment=treatment, patient=patient)
        notifications.queue_series_confirmation(series, [appointment, _appointment(treatment, patient, 1)],
                                                settings, mail=mail)
    elif kind == "reminder":
        notifications.queue_reminder(appointment, settings, "reminder:42", mail=mail)
    elif kind == "prep_reminder":
        notifications.queue_prep_reminder(appointment, treatment.protocol.prep_rules[1], settings, "prep:42:2",
                                          mail=mail)
    elif kind == "registration_attempt":
        notifications.queue_registration_attempt(patient, settings, mail=mail)
    queued = sorted((m for m in db.session.new if isinstance(m, OutboxMessage)),
                    key=lambda m: (m.kind != "series.booked", m.dedupe_key or ""))
    db.session.expunge_all()
    return queued


# kind -> whether a named variant differs (the clinic lets mail name the treatment)
KINDS = {"booked": True, "moved": True, "cancelled": False, "series_booked": True, "reminder": True,
         "prep_reminder": True, "registration_attempt": False}
CASES = [(kind, False) for kind in KINDS] + [(kind, True) for kind, differs in KINDS.items() if differs]


def check_snapshot(name: str, rendered: str) -> None:
    """Compare ``rendered`` with ``snapshots/mail/<name>``, or write it under UPDATE_SNAPSHOTS=1."""
    path = SNAPSHOTS / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered)
    assert path.exists(), f"no snapshot {path}; run with UPDATE_SNAPSHOTS=1 and review it"
    assert rendered == path.read_text(), f"{name} changed; review the diff and update the snapshot if intended"


class _Tags(HTMLParser):
    """The tags and attributes of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


@pytest.mark.parametrize(("kind", "named"), CASES, ids=[f"{k}-{'named' if n else 'discreet'}" for k, n in CASES])
def test_each_mail_matches_its_snapshots_and_is_client_safe(mail_app, kind, named):
    messages = _queue(kind, named)
    assert messages, f"{kind} queued nothing"
    first = messages[0]  # a series: the summary (the invites after it are "booked" mails)
    suffix = "_named" if named else ""
    check_snapshot(f"{kind}{suffix}.txt", first.body_text)
    check_snapshot(f"{kind}{suffix}.html", first.body_html)

    for message in messages:
        html, text = message.body_html, message.body_text
        # CSS inlined: no <style> block left, style attributes in its place.
        assert "<style" not in html.lower()
        tags = _parse(html)
        styled = [tag for tag, attrs in tags.tags if attrs.get("style")]
        assert len(styled) >= 10 and "body" in styled and "p" in styled
        # The clinic: its name as the header in its colour, address and phone in the footer; no images.
        header = next(attrs for tag, attrs in tags.tags if "header" in (attrs.get("class") or "").split())
        assert header["bgcolor"] == COLOR and f"background-color: {COLOR}" in header["style"]
        assert "Villa Rosa" in html and "Via dei Giardini 12, 00100 Roma" in html and "+39 06 1234 5678" in html
        assert not [tag for tag, _ in tags.tags if tag in ("img", "script", "link", "style")]
        assert [tag for tag, _ in tags.tags].count("table") >= 2  # a table layout, Outlook's way
        links = [attrs["href"] for tag, attrs in tags.tags if tag == "a"]
        assert links and all(h.startswith((BASE + "/", "mailto:")) for h in links), links
        # The text part is plain text with the same links.
        assert not re.search(r"</?[a-zA-Z][^>]*>|&(amp|lt|gt|quot|#\d+);", text), text
        assert BASE + "/" in text and "Villa Rosa" in text
        # Discreet unless the clinic names treatments (booking/mail/notifications.py).
        for secret in SECRETS:
            if not named:
                assert secret not in html and secret not in text and secret not in message.subject
    if named and kind != "cancelled":
        assert "No alcohol" in first.body_html and "No alcohol" in first.body_text


def test_every_mail_template_uses_the_layout_and_keeps_its_text_part():
    templates = {p.stem for p in TEMPLATES.glob("*.html") if not p.name.startswith("_")}
    assert set(KINDS) <= templates  # the kinds snapshotted here (others are tested where they are sent)
    for name in templates:
        assert (TEMPLATES / f"{name}.txt").exists(), f"mail/{name}.html has no plain-text part"
        assert (TEMPLATES / f"{name}.html").read_text().startswith('{% extends "mail/_base.html" %}'), name


def test_what_patients_type_is_escaped_in_the_html_part(mail_app):
    settings, treatment, mail = _clinic(False), _treatment(), MailRenderer(BASE)
    patient = User(id=4, name='<img src="x"> Eve & "Co"', email="eve@example.com", role="patient")
    notifications.queue_cancel(_appointment(treatment, patient), settings, mail=mail,
                               patient_message="<script>alert(1)</script> see you")
    (message,) = [m for m in db.session.new if isinstance(m, OutboxMessage)]
    db.session.expunge_all()
    tags = _parse(message.body_html)
    assert not [tag for tag, _ in tags.tags if tag in ("img", "script")]
    assert '<img src="x"> Eve & "Co"' in "".join(tags.text) and "<script>alert(1)</script> see you" in "".join(tags.text)


def test_the_header_text_stays_readable_on_any_clinic_colour():
    for color in ("#2f6f6a", "#ffd400", "#ffffff", "#000000", COLOR, "#88c0d0"):
        colours = brand(color)
        assert contrast(colours.color, colours.on_color) >= 4.5 or colours.on_color in (DARK_TEXT, LIGHT_TEXT)
        assert max(contrast(color, DARK_TEXT), contrast(color, LIGHT_TEXT)) == contrast(color, colours.on_color)
        assert contrast(colours.link, "#ffffff") >= 4.5  # links on the white body
    assert brand("#FFD400").on_color == DARK_TEXT and brand("#2f6f6a").on_color == LIGHT_TEXT


@pytest.mark.parametrize("bad", [None, "", "red", "#fff", "#12345g", "#123456; } body { display: none"])
def test_a_colour_that_is_not_hex_falls_back_to_the_default(bad):
    # It is written into the <style> block: nothing but #rrggbb may reach it.
    assert brand(bad).color == DEFAULT_COLOR
