"""The outbox sender against a real SMTP server (aiosmtpd on a free local port).

Mail is queued through the real use cases where that is easy (a receptionist books or cancels a
consultation over the API) or with ``enqueue``; time is driven with ``send_due(now=...)``.
What the server accepted is the truth: every message arrives once, with its invite intact.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from flask import current_app
from icalendar import Calendar, Event
from sqlalchemy import create_engine, select, text

from booking.extensions import db
from booking.mail import sender as outbox_sender
from booking.mail.outbox import enqueue
from booking.mail.sender import (
    LEASE_LOST_ERROR,
    DirectoryTransport,
    SendReport,
    SmtpTransport,
    build_email,
    message_id,
    retry_failed,
    transport_from_config,
)
from booking.models import Appointment, OutboxMessage
from booking.models.base import utcnow
from tests.integration.clinic import Api, at, build_clinic, monday_in

MAIL_FROM = "Test Clinic <bookings@clinic.example>"


def send_due(transport, **kwargs) -> SendReport:
    """One sender run From the app's MAIL_FROM, as ``flask outbox send`` runs it."""
    return outbox_sender.send_due(transport, mail_from=current_app.config["MAIL_FROM"], **kwargs)


# --- a real SMTP server ---------------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def mail(self) -> EmailMessage:
        return message_from_bytes(self.content, policy=policy.default)


class Recorder:
    """An aiosmtpd handler that keeps what it accepts and can be told to refuse."""

    def __init__(self) -> None:
        self.accepted: list[Received] = []
        self.refuse_data = 0  # answer "451 try later" to this many DATA commands
        self.refuse_rcpt: set[str] = set()  # answer "550 no such user" to these recipients
        self.delay = 0.0  # seconds before answering DATA
        self.data_commands = 0
        self.port = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_rcpt:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_commands += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse_data > 0:
            self.refuse_data -= 1
            return "451 4.3.0 try later"
        self.accepted.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 OK"

    def message_ids(self) -> Counter:
        return Counter(r.mail["Message-ID"] for r in self.accepted)


class EphemeralController(Controller):
    """aiosmtpd's Controller on port 0: it learns the port the OS chose before its self-check."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def start_server(handler: Recorder, **kwargs) -> EphemeralController:
    controller = EphemeralController(handler, hostname="127.0.0.1", port=0, server_hostname="smtp.test",
                                     **kwargs)
    controller.start()
    handler.port = controller.port
    return controller


@pytest.fixture
def smtp_server():
    handler = Recorder()
    controller = start_server(handler)
    yield handler
    controller.stop()


def smtp(server: Recorder) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", server.port, security="none", timeout=10)


# --- helpers --------------------------------------------------------------------------------
@pytest.fixture
def clinic(app):
    return build_clinic()


@pytest.fixture
def reception(client, clinic):
    return Api(client, clinic.receptionist.email)


def book_consultation(reception, clinic, hour: int = 10) -> Appointment:
    response = reception.post("/appointments", {
        "treatment": "consultation", "start": at(monday_in(2), hour).isoformat(),
        "practitioner_id": clinic.anna.id, "patient_id": clinic.patient.id,
    })
    assert response.status_code == 201, response.get_json()
    return db.session.get(Appointment, response.get_json()["id"])


def queue(n: int, **overrides) -> list[int]:
    """``n`` committed plain messages; their ids."""
    messages = []
    for i in range(n):
        values = dict(kind="test.note", to_addr=f"patient{i}@example.com", subject=f"Note {i}",
                      body_text=f"Hello {i}\n", body_html=f"<p>Hello {i}</p>\n", dedupe_key=f"note:{i}")
        values.update(overrides)
        messages.append(enqueue(**values))
    db.session.commit()
    return [m.id for m in messages]


def rows() -> list[OutboxMessage]:
    """Every outbox row as the database has it now."""
    db.session.rollback()
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def tiny_ics(method: str) -> str:
    calendar = Calendar()
    calendar.add("prodid", "-//test//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", "tiny@example.com")
    event.add("dtstamp", utcnow())
    event.add("dtstart", utcnow() + timedelta(days=3))
    calendar.add_component(event)
    return calendar.to_ical().decode()


def text_of(part: EmailMessage) -> str:
    """A text part's content, line endings as in Python (SMTP sends CRLF), outer blank lines off."""
    return part.get_content().replace("\r\n", "\n").strip()


def alternatives(mail: EmailMessage) -> tuple[list[EmailMessage], list[EmailMessage]]:
    """(the parts of multipart/alternative, the attachments) of an invite mail."""
    assert mail.get_content_type() == "multipart/mixed"
    body, *attachments = mail.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    return list(body.iter_parts()), attachments


class OutsideTransactionCheck:
    """Wraps a transport and notes whether the sender's session had a transaction open."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.in_transaction: list[bool] = []

    def __enter__(self):
        self.inner.__enter__()
        return self

    def __exit__(self, *exc_info):
        self.inner.__exit__(*exc_info)

    def send(self, mail, **kwargs):
        self.in_transaction.append(db.session().in_transaction())
        self.inner.send(mail, **kwargs)


# --- delivery and the message itself ---------------------------------------------------------
def test_a_booked_consultation_is_delivered_once_as_an_imip_invite(app, clinic, reception, smtp_server):
    appointment = book_consultation(reception, clinic)
    [queued] = rows()
    assert (queued.status, queued.ics_method, queued.to_addr) == ("queued", "REQUEST", "paola@example.com")
    transport = OutsideTransactionCheck(smtp(smtp_server))

    assert send_due(transport) == SendReport(sent=1)

    assert transport.in_transaction == [False]  # SMTP talk never holds a database transaction
    [received] = smtp_server.accepted
    assert (received.mail_from, received.rcpt_tos) == ("bookings@clinic.example", ["paola@example.com"])
    mail = received.mail
    [row] = rows()
    assert mail["Message-ID"] == message_id(row, app.config["MAIL_FROM"])
    # A long subject is folded onto its own line; unfolding leaves the folding space.
    assert mail["To"] == "paola@example.com" and mail["Subject"].strip() == row.subject and mail["Date"]
    parts, attachments = alternatives(mail)
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html", "text/calendar"]
    plain, html, calendar_part = parts
    assert text_of(plain) == row.body_text.strip() and text_of(html) == row.body_html.strip()
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_content_charset() == "utf-8"
    calendar = Calendar.from_ical(calendar_part.get_content())
    assert calendar["method"] == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert str(event["uid"]) == appointment.ical_uid
    assert str(event["attendee"]) == "mailto:paola@example.com"
    assert calendar.walk("VALARM")  # the day-before reminder
    [attachment] = attachments
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == row.ics.encode()

    assert (row.status, row.attempts, row.last_error) == ("sent", 0, None)
    assert row.sent_at is not None
    assert send_due(smtp(smtp_server)) == SendReport()  # nothing is sent twice
    assert len(smtp_server.accepted) == 1


def test_a_cancellation_is_sent_as_method_cancel_without_alarms(clinic, reception, smtp_server):
    appointment = book_consultation(reception, clinic)
    cancelled = reception.post(f"/appointments/{appointment.id}/cancel", {"reason": "patient called"})
    assert cancelled.status_code == 200, cancelled.get_json()

    assert send_due(smtp(smtp_server)) == SendReport(sent=2)

    invite, cancel = smtp_server.accepted
    assert invite.mail["Message-ID"] != cancel.mail["Message-ID"]
    parts, [attachment] = alternatives(cancel.mail)
    calendar_part = parts[-1]
    assert calendar_part.get_content_type() == "text/calendar"
    assert calendar_part.get_param("method") == "CANCEL"
    calendar = Calendar.from_ical(calendar_part.get_content())
    assert calendar["method"] == "CANCEL"
    [event] = calendar.walk("VEVENT")
    assert event["status"] == "CANCELLED"
    assert str(event["uid"]) == appointment.ical_uid
    assert calendar.walk("VALARM") == []
    assert Calendar.from_ical(attachment.get_content())["method"] == "CANCEL"


def test_a_message_without_an_invite_is_text_and_html_and_keeps_accents(app, smtp_server):
    [message_id_] = queue(1, subject="Caffè e cornetto", body_text="Ci vediamo lunedì.\n",
                          body_html="<p>Ci vediamo luned&igrave;.</p>\n")

    assert send_due(smtp(smtp_server)) == SendReport(sent=1)

    mail = smtp_server.accepted[0].mail
    assert mail.get_content_type() == "multipart/alternative"
    plain, html = mail.iter_parts()
    assert text_of(plain) == "Ci vediamo lunedì."
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"  # no 8BITMIME needed on the way
    assert mail["Subject"] == "Caffè e cornetto"
    assert mail["Auto-Submitted"] == "auto-generated"
    row = db.session.get(OutboxMessage, message_id_)
    again = build_email(row, mail_from=MAIL_FROM)
    assert again["Message-ID"] == build_email(row, mail_from=MAIL_FROM)["Message-ID"]
    assert again["Message-ID"].endswith("@clinic.example>")
    assert "MIME-Version" not in plain


def test_an_invite_whose_method_disagrees_with_its_part_is_never_sent(app, smtp_server):
    [bad] = queue(1, ics=tiny_ics("REQUEST"), ics_method="CANCEL")
    with pytest.raises(ValueError, match="METHOD"):
        build_email(db.session.get(OutboxMessage, bad), mail_from=MAIL_FROM)

    assert send_due(smtp(smtp_server)) == SendReport(failed=1)

    [row] = rows()
    assert row.status == "failed" and "METHOD" in row.last_error
    assert smtp_server.data_commands == 0


# --- refusals, retries and backoff ----------------------------------------------------------
def test_a_refusing_server_gets_retries_with_backoff_and_every_message_arrives_once(app, smtp_server):
    ids = queue(3)
    smtp_server.refuse_data = 4
    t0 = utcnow()

    assert send_due(smtp(smtp_server), now=t0) == SendReport(retried=3)
    first = rows()
    assert [(r.status, r.attempts) for r in first] == [("queued", 1)] * 3
    assert all(r.next_attempt_at == t0 + timedelta(minutes=2) for r in first)
    assert all(r.last_error == "SMTPDataError: 451 4.3.0 try later" for r in first)

    assert send_due(smtp(smtp_server), now=t0 + timedelta(minutes=1)) == SendReport()  # not due yet
    assert send_due(smtp(smtp_server), now=t0 + timedelta(minutes=2)) == SendReport(sent=2, retried=1)
    second = rows()
    assert [(r.status, r.attempts) for r in second] == [("queued", 2), ("sent", 1), ("sent", 1)]
    assert second[0].next_attempt_at == t0 + timedelta(minutes=2 + 4)

    assert send_due(smtp(smtp_server), now=t0 + timedelta(minutes=5)) == SendReport()
    assert send_due(smtp(smtp_server), now=t0 + timedelta(minutes=6)) == SendReport(sent=1)

    final = rows()
    assert [r.status for r in final] == ["sent"] * 3
    assert smtp_server.data_commands == 4 + 3
    expected = {message_id(r, MAIL_FROM) for r in final}
    assert smtp_server.message_ids() == Counter({mid: 1 for mid in expected})
    assert sorted(r.rcpt_tos[0] for r in smtp_server.accepted) == [f"patient{i}@example.com" for i in range(3)]
    assert [r.id for r in final] == ids


def test_backoff_doubles_up_to_six_hours_and_then_the_message_fails(app, smtp_server):
    [the_id] = queue(1)
    smtp_server.refuse_data = 10**6
    now = utcnow()
    waits = []
    for _ in range(8):
        report = send_due(smtp(smtp_server), now=now, max_attempts=10)
        assert report == SendReport(retried=1)
        [row] = rows()
        waits.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert waits == [timedelta(minutes=m) for m in (2, 4, 8, 16, 32, 64, 128, 256)]
    assert send_due(smtp(smtp_server), now=now, max_attempts=10) == SendReport(retried=1)
    assert rows()[0].next_attempt_at - now == timedelta(hours=6)
    now = rows()[0].next_attempt_at
    assert send_due(smtp(smtp_server), now=now, max_attempts=10) == SendReport(failed=1)
    [row] = rows()
    assert (row.id, row.status, row.attempts) == (the_id, "failed", 10)
    assert smtp_server.accepted == []


def test_after_max_attempts_a_message_is_failed_and_staff_can_queue_it_again(app, smtp_server):
    [the_id] = queue(1)
    smtp_server.refuse_data = 10**6
    t0 = utcnow()

    assert send_due(smtp(smtp_server), now=t0, max_attempts=3).retried == 1
    assert send_due(smtp(smtp_server), now=t0 + timedelta(minutes=2), max_attempts=3).retried == 1
    assert send_due(smtp(smtp_server), now=t0 + timedelta(minutes=6), max_attempts=3) == SendReport(failed=1)
    [row] = rows()
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error == "SMTPDataError: 451 4.3.0 try later"
    assert send_due(smtp(smtp_server), now=t0 + timedelta(days=2), max_attempts=3) == SendReport()
    assert smtp_server.data_commands == 3

    smtp_server.refuse_data = 0
    assert retry_failed(the_id) is True
    [row] = rows()
    assert (row.status, row.attempts) == ("queued", 0)
    assert send_due(smtp(smtp_server), max_attempts=3) == SendReport(sent=1)
    assert rows()[0].status == "sent" and len(smtp_server.accepted) == 1
    assert retry_failed(the_id) is False  # only a failed message goes back
    assert retry_failed(the_id + 1000) is False


def test_a_recipient_refused_for_good_fails_at_once_and_the_batch_goes_on(app, smtp_server):
    smtp_server.refuse_rcpt = {"nobody@example.com"}
    bad, good = queue(1, to_addr="nobody@example.com", dedupe_key="bad")[0], queue(1)[0]

    assert send_due(smtp(smtp_server)) == SendReport(sent=1, failed=1)

    by_id = {r.id: r for r in rows()}
    assert (by_id[bad].status, by_id[bad].attempts) == ("failed", 1)
    assert by_id[bad].last_error == "recipient refused: nobody@example.com: 550 5.1.1 no such user"
    assert by_id[good].status == "sent"
    assert [r.rcpt_tos for r in smtp_server.accepted] == [["patient0@example.com"]]


def test_an_unreachable_server_counts_an_attempt_and_loses_nothing(app):
    ids = queue(2)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    report = send_due(SmtpTransport("127.0.0.1", port, security="none", timeout=5))

    assert report == SendReport(retried=2)
    assert [(r.id, r.status, r.attempts) for r in rows()] == [(i, "queued", 1) for i in ids]
    assert all(r.last_error.startswith("ConnectionRefusedError") for r in rows())


# --- crashes and leases -----------------------------------------------------------------------
class Crash(BaseException):
    """The sender process dying (SIGKILL, power cut) right after the server said 250."""


class CrashAfterAccept:
    def __init__(self, inner) -> None:
        self.inner = inner

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.inner.__exit__(*exc_info)

    def send(self, mail, **kwargs):
        self.inner.send(mail, **kwargs)
        raise Crash


def test_a_crash_after_the_server_accepted_means_one_resend_after_the_lease(app, smtp_server):
    crashed, untouched = queue(2)
    t0 = utcnow()

    with pytest.raises(Crash):
        send_due(CrashAfterAccept(smtp(smtp_server)), now=t0)

    by_id = {r.id: r for r in rows()}
    assert (by_id[crashed].status, by_id[crashed].next_attempt_at) == ("sending", t0 + timedelta(minutes=5))
    assert (by_id[untouched].status, by_id[untouched].attempts) == ("queued", 0)  # handed back untried
    # While the lease runs, nobody touches the crashed message.
    assert send_due(smtp(smtp_server), now=t0 + timedelta(minutes=1)) == SendReport(sent=1)
    # After it, the message goes out again: at least once, never lost, same Message-ID.
    assert send_due(smtp(smtp_server), now=t0 + timedelta(minutes=5)) == SendReport(sent=1)
    row = {r.id: r for r in rows()}[crashed]
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, LEASE_LOST_ERROR)
    counts = smtp_server.message_ids()
    assert sorted(counts.values()) == [1, 2]
    assert counts[message_id(row, MAIL_FROM)] == 2


def test_a_slow_batch_hands_back_what_it_did_not_start_within_half_the_lease(app, smtp_server):
    queue(3)
    smtp_server.delay = 0.6  # the first send alone outlasts half of the 1 s lease
    now = utcnow()

    report = send_due(smtp(smtp_server), now=now, lease=timedelta(seconds=1))

    assert report == SendReport(sent=1)
    assert [(r.status, r.attempts) for r in rows()] == [("sent", 0), ("queued", 0), ("queued", 0)]
    assert all(r.next_attempt_at == now for r in rows()[1:])
    smtp_server.delay = 0
    assert send_due(smtp(smtp_server), now=now) == SendReport(sent=2)
    assert sorted(smtp_server.message_ids().values()) == [1, 1, 1]


# --- concurrent senders ---------------------------------------------------------------------
SENDERS = 4
MESSAGES = 36


def run_senders(app, server: Recorder, n: int = SENDERS) -> list[int]:
    """``n`` senders on their own threads, sessions and connections; what each one sent."""
    barrier = threading.Barrier(n, timeout=30)
    sent = [0] * n
    errors: list[BaseException] = []

    def sender(i: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                while True:
                    report = send_due(smtp(server), limit=3)
                    assert report.retried == report.failed == 0, report
                    sent[i] += report.sent
                    if report.sent == 0:
                        break
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 -- reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(i,), name=f"sender-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    return sent


def test_parallel_senders_deliver_each_message_exactly_once(app, smtp_server):
    queue(MESSAGES)
    smtp_server.delay = 0.005  # long enough for the senders' batches to overlap
    db.session.remove()

    sent = run_senders(app, smtp_server)

    assert sum(sent) == MESSAGES
    assert sum(1 for n in sent if n) > 1  # the work really was shared
    final = rows()
    assert {r.status for r in final} == {"sent"}
    expected = {message_id(r, MAIL_FROM) for r in final}
    assert len(expected) == MESSAGES
    assert smtp_server.message_ids() == Counter({mid: 1 for mid in expected})
    assert smtp_server.data_commands == MESSAGES


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_senders_skip_rows_another_sender_has_locked(app, database_url, smtp_server):
    ids = queue(6)
    locked = ids[:2]
    other = create_engine(database_url)
    try:
        with other.connect() as connection:
            connection.execute(text("SELECT id FROM outbox_message WHERE id = ANY(:ids) FOR UPDATE"),
                               {"ids": locked})
            # Another sender is mid-claim on two rows: this one must skip them, not wait.
            result: list[SendReport] = []
            worker = threading.Thread(target=lambda: result.append(_send_in_context(app, smtp_server)))
            worker.start()
            worker.join(timeout=20)
            assert not worker.is_alive(), "send_due waited for a locked row instead of skipping it"
            assert result == [SendReport(sent=4)]
            connection.rollback()
    finally:
        other.dispose()
    assert {r.id for r in rows() if r.status == "queued"} == set(locked)
    assert send_due(smtp(smtp_server)) == SendReport(sent=2)
    assert sorted(smtp_server.message_ids().values()) == [1] * 6


def _send_in_context(app, server: Recorder) -> SendReport:
    with app.app_context():
        try:
            return send_due(smtp(server))
        finally:
            db.session.remove()


# --- development transport and the command line --------------------------------------------
def test_without_smtp_host_mail_is_written_as_eml_files(app, clinic, reception, tmp_path):
    app.config.update(SMTP_HOST="", MAIL_DIR=str(tmp_path / "outbox-mail"))
    transport = transport_from_config(app.config)
    assert isinstance(transport, DirectoryTransport)
    book_consultation(reception, clinic)
    [row] = rows()

    assert send_due(transport) == SendReport(sent=1)

    [path] = (tmp_path / "outbox-mail").iterdir()
    assert path.name == f"{row.id}-appointment.booked.eml"
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    parts, [attachment] = alternatives(mail)
    assert parts[-1].get_param("method") == "REQUEST"
    assert Calendar.from_ical(parts[-1].get_content())["method"] == "REQUEST"
    assert attachment.get_filename() == "invite.ics"
    assert rows()[0].status == "sent"


def test_flask_outbox_send_and_list(app, runner, smtp_server, monkeypatch):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="none")
    ids = queue(2)
    queue(1, to_addr="nobody@example.com", dedupe_key="bad")
    smtp_server.refuse_rcpt = {"nobody@example.com"}

    result = runner.invoke(args=["outbox", "send", "--limit", "10"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sent 2, retried 0, failed 1"
    assert sorted(r.rcpt_tos[0] for r in smtp_server.accepted) == ["patient0@example.com", "patient1@example.com"]
    listed = runner.invoke(args=["outbox", "list", "--status", "sent"])
    assert listed.exit_code == 0, listed.output
    assert [line.split()[0] for line in listed.output.splitlines()[1:]] == [str(i) for i in reversed(ids)]
    failed = runner.invoke(args=["outbox", "list", "--status", "failed"]).output
    assert "nobody@example.com" in failed and "550 5.1.1 no such user" in failed
    assert runner.invoke(args=["outbox", "list", "--status", "queued"]).output.strip() == "No messages."

    queue(1, dedupe_key="later")

    def stop(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr("booking.cli.time", SimpleNamespace(sleep=stop))  # the command's clock only
    looped = runner.invoke(args=["outbox", "send", "--loop", "--interval", "5"])
    assert looped.exit_code == 0, looped.output
    assert looped.output.splitlines() == ["sent 1, retried 0, failed 0", "Stopped."]
    assert len(smtp_server.accepted) == 3


# --- TLS and authentication ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"clinic", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_transport_speaks_tls_and_logs_in(certificate, security):
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    handler = Recorder()
    if security == "starttls":
        tls = dict(tls_context=server_context, require_starttls=True, auth_required=True)
    else:  # aiosmtpd only counts STARTTLS as TLS for AUTH, so it is told not to insist
        tls = dict(ssl_context=server_context, auth_require_tls=False)
    controller = start_server(handler, authenticator=authenticate, **tls)
    try:
        mail = EmailMessage(policy=policy.SMTP)
        mail["From"], mail["To"], mail["Subject"] = MAIL_FROM, "paola@example.com", "TLS"
        mail.set_content("Over TLS.\n")
        with SmtpTransport("127.0.0.1", handler.port, "clinic", "s3cret", security,
                           timeout=10, ssl_context=client_context) as transport:
            transport.send(mail, outbox_id=1, kind="test")
        wrong = SmtpTransport("127.0.0.1", handler.port, "clinic", "wrong", security,
                              timeout=10, ssl_context=client_context)
        with pytest.raises(Exception, match="535|Authentication"), wrong:
            wrong.send(mail, outbox_id=2, kind="test")
    finally:
        controller.stop()
    assert [r.mail["Subject"] for r in handler.accepted] == ["TLS"]
    with pytest.raises(ValueError, match="security"):
        SmtpTransport("127.0.0.1", 25, security="tls")
