"""Staff views: the development mailbox (mail written to instance/mail when no SMTP is set).

Development only (production refuses to start without SMTP), and administrators only: the
mailbox holds every patient's mail. A message that carries a one-time link (a password reset)
is listed but never shown, not even to an administrator: only its recipient may use the link.
"""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

from flask import abort, current_app, render_template
from sqlalchemy import func, select

from booking import devmail
from booking.extensions import db
from booking.mail.outbox import carries_secret_link
from booking.models import OutboxMessage
from booking.services.clinic import get_settings
from booking.web.access import roles_required
from booking.web.staff import bp

MAILBOX_ENVIRONMENTS = ("development", "testing")


@bp.before_request
def development_only():
    """The mailbox does not exist outside development."""
    if current_app.config.get("BOOKING_ENV") not in MAILBOX_ENVIRONMENTS:
        abort(404)


def _kind(name: str) -> str:
    """The outbox kind in a file name the development transport wrote (``<id>-<kind>.eml``)."""
    return name.removesuffix(".eml").partition("-")[2]


def _mail_dir() -> Path:
    """Where the development transport writes .eml files."""
    return Path(current_app.config["MAIL_DIR"])


def _read(path: Path) -> email.message.EmailMessage:
    """Parse one .eml file."""
    with path.open("rb") as handle:
        return email.message_from_binary_file(handle, policy=policy.default)


@bp.route("/mail")
@roles_required("admin")
def mailbox():
    """Every e-mail written to the development mailbox, newest first."""
    folder = _mail_dir()
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    messages = []
    for path in files[:200]:
        message = _read(path)
        parts = [part.get_content_type() for part in message.walk() if not part.is_multipart()]
        messages.append({"name": path.name, "to": message["To"], "subject": message["Subject"],
                         "date": message["Date"], "parts": parts, "secret": carries_secret_link(_kind(path.name))})
    waiting = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.status.in_(("queued", "sending"))))
    return render_template("staff/mailbox.html", messages=messages, smtp=bool(current_app.config["SMTP_HOST"]),
                           folder=str(folder), clinic=get_settings(), waiting=waiting,
                           background=devmail.enabled(current_app))


@bp.route("/mail/<name>")
@roles_required("admin")
def mail_message(name: str):
    """One message: headers, text body, the HTML part as a mail client shows it (in a sandboxed
    frame: no scripts, no forms) and its calendar part."""
    path = _mail_dir() / name
    if "/" in name or not name.endswith(".eml") or not path.is_file():
        abort(404)
    message = _read(path)
    if carries_secret_link(_kind(name)):
        return render_template("staff/mail_message.html", message=message, name=name, secret=True,
                               text="", html="", calendar=None, clinic=get_settings())
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    calendar = next((p for p in message.walk() if p.get_content_type() == "text/calendar"), None)
    return render_template("staff/mail_message.html", message=message, name=name,
                           text=text.get_content() if text else "",
                           html=html.get_content() if html is not None else "",
                           calendar=calendar.get_content() if calendar is not None else None,
                           clinic=get_settings())
