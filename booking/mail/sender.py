"""Sending the outbox: build each message, deliver it over SMTP (or into files), record the result.

A sender claims due messages in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), marking them ``sending`` with a lease; it then talks to the mail
server with no transaction open, and records each outcome in its own short transaction. So any
number of senders (threads, processes, servers) can run at once and none sends what another holds.

Delivery is at least once, not exactly once. If a sender dies after the SMTP server accepted a
message but before it recorded ``sent``, the message stays ``sending`` until its lease expires,
and then another run sends it again (counting an attempt and noting the possible duplicate in
``last_error``). The copy carries the same ``Message-ID``, so mail clients and the server's logs
can recognise it. No other path sends a message twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol

from icalendar import Calendar
from sqlalchemy import select, update

from booking.database import begin_write
from booking.extensions import db
from booking.mail.outbox import CLEARED_BODY, SECRET_LINK_KINDS, SECRET_LINK_MAX_AGE_SECONDS, carries_secret_link
from booking.models import OutboxMessage
from booking.models.base import utcnow

log = logging.getLogger(__name__)

SECURITY_MODES = ("starttls", "ssl", "none")
SMTP_TIMEOUT = 30.0  # seconds per SMTP command
MAX_BACKOFF = timedelta(hours=6)
LEASE_LOST_ERROR = "the sender stopped before recording the result; sent again (may be a duplicate)"


# --- building -------------------------------------------------------------------------------
def message_id(message: OutboxMessage, mail_from: str) -> str:
    """A Message-ID that stays the same for every (re)send of this outbox row."""
    if message.id is None:
        raise ValueError("the outbox message has no id yet; flush it before building the e-mail")
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    # Without a dedupe key the creation time keeps ids unique across a re-created database.
    key = message.dedupe_key or (message.created_at.isoformat() if message.created_at else "")
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"<outbox.{message.id}.{digest}@{domain}>"


def calendar_method(ics: str) -> str | None:
    """The METHOD of an iCalendar document (upper case), or None when it has none."""
    method = Calendar.from_ical(ics).get("method")
    return str(method).upper() if method else None


def build_email(message: OutboxMessage, *, mail_from: str) -> EmailMessage:
    """The e-mail of an outbox message, as RFC 6047 lays out an iMIP invite.

    ``multipart/mixed`` holding ``multipart/alternative`` (text/plain, text/html and, with an
    invite, ``text/calendar; method=...``) plus the same .ics as an ``invite.ics`` attachment for
    clients that only look at attachments. Date is when the message was queued, so a resend is
    the same e-mail. Raises ValueError when the invite's METHOD and ``ics_method`` disagree:
    clients act on the MIME parameter, so it must not lie.
    """
    mail = EmailMessage(policy=SMTP)
    mail["Message-ID"] = message_id(message, mail_from)
    mail["Date"] = format_datetime(message.created_at or utcnow())
    mail["From"] = header_value(mail_from)
    mail["To"] = header_value(message.to_addr)
    mail["Subject"] = header_value(message.subject)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to this
    mail.set_content(message.body_text, cte=_transfer_encoding(message.body_text))
    if message.body_html:
        mail.add_alternative(message.body_html, subtype="html",
                             cte=_transfer_encoding(message.body_html))
    if message.ics:
        method = (message.ics_method or "").upper()
        found = calendar_method(message.ics)
        if not method or method != found:
            raise ValueError(f"ics_method {message.ics_method!r} does not match the invite's METHOD {found!r}")
        mail.add_alternative(message.ics, subtype="calendar", params={"method": method},
                             cte=_transfer_encoding(message.ics))
        mail.add_attachment(message.ics.encode("utf-8"), maintype="application", subtype="ics",
                            filename="invite.ics")
    for part in mail.walk():
        if part is not mail:
            del part["MIME-Version"]  # only the top level carries it (RFC 2045 §4)
    return mail


# Line breaks of any kind (CR, LF, NEL, U+2028/9), other control characters and runs of
# whitespace: none may reach a header, where a line break would end it or start another one.
_UNSAFE_IN_HEADER = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_value(text: str) -> str:
    """``text`` on one line, fit for any header: control characters and whitespace runs become one
    space. Every header built here goes through this, so no stored value (a name typed with a
    line break before forms refused them) can make a message fail or add a header."""
    return _UNSAFE_IN_HEADER.sub(" ", text or "").strip()


def _transfer_encoding(text: str) -> str:
    """7bit for short-lined ASCII, else quoted-printable: safe through any relay, no 8BITMIME needed."""
    if text.isascii() and all(len(line) <= 998 for line in text.splitlines()):
        return "7bit"
    return "quoted-printable"


# --- transports -----------------------------------------------------------------------------
class Transport(Protocol):
    """Where e-mails go. Used as a context manager around one batch."""

    def __enter__(self) -> Transport: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def send(self, mail: EmailMessage, *, outbox_id: int, kind: str) -> None:
        """Deliver ``mail`` or raise; smtplib's exceptions say whether it is worth retrying."""


class SmtpTransport:
    """An SMTP relay: STARTTLS (default), implicit TLS (``ssl``) or plain (``none``, local only).

    One connection serves a whole batch; it is reopened after an error that leaves it unusable.
    """

    def __init__(self, host: str, port: int, username: str = "", password: str = "",
                 security: str = "starttls", *, timeout: float = SMTP_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"SMTP security {security!r} is not one of {', '.join(SECURITY_MODES)}")
        self.host, self.port = host, int(port)
        self.username, self.password = username, password
        self.security, self.timeout = security, timeout
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, mail: EmailMessage, *, outbox_id: int, kind: str) -> None:
        """Send over the open connection, opening one if needed."""
        smtp = self._smtp or self._connect()
        try:
            smtp.send_message(mail)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            if smtp.sock is None:  # a 421 answer closes the connection
                self._smtp = None
            raise
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """QUIT politely; drop the socket if the server is gone already."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp


class DirectoryTransport:
    """Development: each e-mail becomes ``<id>-<kind>.eml`` in a folder (open it in a mail client)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __enter__(self) -> DirectoryTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def send(self, mail: EmailMessage, *, outbox_id: int, kind: str) -> None:
        """Write the file whole (temporary name, then rename), replacing an earlier copy."""
        self.path.mkdir(parents=True, exist_ok=True)
        name = f"{outbox_id}-{re.sub(r'[^A-Za-z0-9._-]', '_', kind)}.eml"
        partial = self.path / f".{name}.partial"
        partial.write_bytes(mail.as_bytes())
        os.replace(partial, self.path / name)


def transport_from_config(config: Mapping[str, Any]) -> Transport:
    """SMTP when ``SMTP_HOST`` is set, else files under ``MAIL_DIR``."""
    if not config.get("SMTP_HOST"):
        return DirectoryTransport(config["MAIL_DIR"])
    return SmtpTransport(config["SMTP_HOST"], config["SMTP_PORT"], config.get("SMTP_USERNAME", ""),
                         config.get("SMTP_PASSWORD", ""), config.get("SMTP_SECURITY", "starttls"))


# --- sending --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendReport:
    """What one run did: delivered, put back for a later try, given up on."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"sent {self.sent}, retried {self.retried}, failed {self.failed}"


@dataclass(frozen=True)
class _Claim:
    """A message this run holds (until its lease ends) and the e-mail built for it."""

    id: int
    kind: str
    attempts: int
    mail: EmailMessage


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 2, 4, 8, ... minutes, at most 6 hours."""
    return min(timedelta(minutes=2 ** min(attempts, 16)), MAX_BACKOFF)


def send_due(transport: Transport, *, mail_from: str, now: datetime | None = None, limit: int = 50,
             max_attempts: int = 8, lease: timedelta = timedelta(minutes=5)) -> SendReport:
    """Send up to ``limit`` due messages (``queued``, or ``sending`` with an expired lease).

    Success marks a message ``sent``; an SMTP error puts it back in the queue with
    ``attempts + 1`` and a backoff, or marks it ``failed`` once ``max_attempts`` are used or when
    the server refuses the recipient for good (5xx). ``now`` fixes the clock (tests); the lease is
    also guarded in real time: no send starts after half of it has passed, so a slow batch hands
    its remaining messages back instead of racing the sender that would reclaim them.
    ``mail_from`` is the From address (the ``MAIL_FROM`` setting, passed by ``flask outbox send``).
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    started = time.monotonic()
    lease_until = clock() + lease
    claims, failed = _claim(clock(), lease_until, limit, max_attempts, mail_from)
    sent = retried = 0
    if not claims:
        return SendReport(failed=failed)
    done = 0
    try:
        with transport:
            for claim in claims:
                if time.monotonic() - started > lease.total_seconds() / 2:
                    log.warning("outbox: lease half used; handing back %d messages", len(claims) - done)
                    break
                done += 1
                try:
                    transport.send(claim.mail, outbox_id=claim.id, kind=claim.kind)
                except Exception as exc:  # noqa: BLE001 -- any failure is recorded, the batch goes on
                    if _record_failure(claim, exc, lease_until, clock(), max_attempts):
                        failed += 1
                    else:
                        retried += 1
                else:
                    _finish(claim, lease_until, status="sent", sent_at=clock(), **_cleared(claim.kind))
                    sent += 1
    finally:
        _release(claims[done:], lease_until, clock())
    return SendReport(sent=sent, retried=retried, failed=failed)


def _claim(now: datetime, lease_until: datetime, limit: int, max_attempts: int,
           mail_from: str) -> tuple[list[_Claim], int]:
    """Take due messages for this run in one short transaction; also count those given up on."""
    session = db.session
    begin_write(session)
    try:
        failed = _expire_secret_links(now)
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status.in_(("queued", "sending")), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite is serialized by begin_write
        ).all()
        claims: list[_Claim] = []
        for row in rows:
            if row.status == "sending":  # its sender died mid-batch: that try counts
                row.attempts += 1
                row.last_error = LEASE_LOST_ERROR
                if row.attempts >= max_attempts:
                    row.status = "failed"
                    failed += 1
                    continue
            try:
                mail = build_email(row, mail_from=mail_from)
            except Exception as exc:  # noqa: BLE001 -- a message that cannot be built never will be
                log.exception("outbox: message %s cannot be built", row.id)
                row.status, row.last_error = "failed", f"cannot build the e-mail: {exc}"
                failed += 1
                continue
            row.status, row.next_attempt_at = "sending", lease_until
            claims.append(_Claim(row.id, row.kind, row.attempts, mail))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return claims, failed


def _cleared(kind: str) -> dict[str, str]:
    """The body values that replace a sent message's own when it carried a one-time link."""
    return {"body_text": CLEARED_BODY, "body_html": ""} if carries_secret_link(kind) else {}


def _expire_secret_links(now: datetime) -> int:
    """Clear the bodies of one-time-link messages whose link has expired; one never sent by then
    is given up on (its link no longer works). Returns how many were given up on."""
    session = db.session
    old = (OutboxMessage.kind.in_(SECRET_LINK_KINDS),
           OutboxMessage.created_at < now - timedelta(seconds=SECRET_LINK_MAX_AGE_SECONDS))
    given_up = session.execute(
        update(OutboxMessage)
        .where(*old, OutboxMessage.status.in_(("queued", "sending")), OutboxMessage.next_attempt_at <= now)
        .values(status="failed", last_error="the link in it expired before it could be sent",
                body_text=CLEARED_BODY, body_html="")
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(OutboxMessage)
        .where(*old, OutboxMessage.status.in_(("failed", "sent")), OutboxMessage.body_text != CLEARED_BODY)
        .values(body_text=CLEARED_BODY, body_html="")
        .execution_options(synchronize_session=False)
    )
    return given_up


def _finish(claim: _Claim, lease_until: datetime, **values: Any) -> bool:
    """Record an outcome if the message is still ours (same lease); False if it was reclaimed."""
    session = db.session
    begin_write(session)
    try:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == claim.id, OutboxMessage.status == "sending",
                   OutboxMessage.next_attempt_at == lease_until)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if result.rowcount != 1:
        log.warning("outbox: message %s was reclaimed by another sender before its result was recorded",
                    claim.id)
    return result.rowcount == 1


def _record_failure(claim: _Claim, exc: Exception, lease_until: datetime, now: datetime,
                    max_attempts: int) -> bool:
    """Queue the message again with a backoff, or mark it failed; True when it failed for good."""
    attempts = claim.attempts + 1
    error = describe_error(exc)
    if is_permanent(exc) or attempts >= max_attempts:
        log.error("outbox: message %s failed after %d attempts: %s", claim.id, attempts, error)
        _finish(claim, lease_until, status="failed", attempts=attempts, last_error=error,
                next_attempt_at=now)
        return True
    log.warning("outbox: message %s not sent (attempt %d), retrying: %s", claim.id, attempts, error)
    _finish(claim, lease_until, status="queued", attempts=attempts, last_error=error,
            next_attempt_at=now + backoff(attempts))
    return False


def _release(claims: list[_Claim], lease_until: datetime, now: datetime) -> None:
    """Hand back messages this run claimed but never tried: queued and due now, no attempt used."""
    if not claims:
        return
    session = db.session
    try:
        session.rollback()
        begin_write(session)
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([c.id for c in claims]), OutboxMessage.status == "sending",
                   OutboxMessage.next_attempt_at == lease_until)
            .values(status="queued", next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    except Exception:  # noqa: BLE001 -- the lease expires anyway; they are only sent later
        session.rollback()
        log.exception("outbox: could not hand back %d claimed messages", len(claims))


def is_permanent(exc: BaseException) -> bool:
    """True when retrying cannot help: the server refused every recipient with a 5xx code."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        return all(code >= 500 for code, _ in exc.recipients.values())
    return False


def describe_error(exc: BaseException) -> str:
    """A short, readable ``last_error``: the SMTP code and text where there is one."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items())
        message = f"recipient refused: {text}"
    elif isinstance(exc, smtplib.SMTPResponseException):
        message = f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return message[:1000]


def _text(value: bytes | str) -> str:
    """An SMTP server's reply text as a string."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --- staff actions --------------------------------------------------------------------------
def retry_failed(message_id: int, *, now: datetime | None = None) -> bool:
    """Put a failed message back in the queue with fresh attempts; False if it is not failed."""
    session = db.session
    begin_write(session)
    try:
        result = session.execute(
            update(OutboxMessage)
            # A cleared one-time-link message has nothing left to send.
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "failed",
                   OutboxMessage.body_text != CLEARED_BODY)
            .values(status="queued", attempts=0, next_attempt_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result.rowcount == 1
