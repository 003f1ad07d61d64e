"""Queueing mail in the outbox, in the same transaction as the change it reports.

Nothing is sent here: a message becomes visible to the sender only when the use case commits,
so a rolled-back booking never mails anyone and a committed one always does.
"""

from __future__ import annotations

from booking.extensions import db
from booking.models import OutboxMessage

# Messages that carry a one-time secret (a password-reset or sign-in link). Only the recipient
# may read one: staff pages show that it exists, never its body, and the sender clears the body
# once it is sent or its link has expired (``booking.mail.sender``).
SECRET_LINK_KINDS = frozenset({"password.reset", "auth.sign_in", "auth.magic_link"})
SECRET_LINK_MAX_AGE_SECONDS = 60 * 60  # as long as the longest-lived link (a reset: one hour)
CLEARED_BODY = "(Cleared: this message carried a one-time link, readable only by its recipient.)"


def carries_secret_link(kind: str) -> bool:
    """Whether messages of ``kind`` hold a link that signs someone in or resets a password."""
    return kind in SECRET_LINK_KINDS


def enqueue(
    *,
    kind: str,
    to_addr: str | None,
    subject: str,
    body_text: str,
    body_html: str = "",
    ics: str | None = None,
    ics_method: str | None = None,
    appointment_id: int | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Add a message to the outbox of the current transaction; None when there is no address to
    send it to (a patient added by phone without an e-mail address gets no mail)."""
    if not to_addr:
        return None
    message = OutboxMessage(
        kind=kind,
        to_addr=to_addr,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        ics=ics,
        ics_method=ics_method,
        appointment_id=appointment_id,
        dedupe_key=dedupe_key,
    )
    db.session.add(message)
    return message
