"""Reading the audit log and the outbox for the staff pages, and retrying failed mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.mail import sender
from booking.models import STAFF_ROLES, AuditEvent, OutboxMessage, User
from booking.scheduling.clock import local_day_bounds
from booking.services import audit
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest
from booking.services.reception import require_front_desk

PAGE_SIZE = 100


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page is narrowed to; every field optional."""

    patient: str = ""
    actor_id: int | None = None
    appointment_id: int | None = None
    first_day: date | None = None
    last_day: date | None = None
    action: str = ""


@dataclass(frozen=True)
class Page:
    """One page of results and whether there are more."""

    rows: list
    page: int
    has_more: bool


def staff_members() -> list[User]:
    """Staff accounts, for the "who" filter."""
    return list(db.session.scalars(select(User).where(User.role.in_(STAFF_ROLES)).order_by(User.name)))


def search_audit(actor: Actor, wanted: AuditFilter, *, page: int = 1) -> Page:
    """Audit events matching ``wanted``, newest first, ``PAGE_SIZE`` a page."""
    if actor.role not in ("admin", "receptionist"):
        raise Forbidden("Only reception and administrators read the audit log.")
    tz = get_settings().timezone
    query = select(AuditEvent).options(selectinload(AuditEvent.actor))
    if wanted.patient.strip():
        text = wanted.patient.strip()
        if text.isdigit() and len(text) <= 9:
            query = query.where(AuditEvent.patient_id == int(text))
        else:
            like = f"%{text.lower()}%"
            ids = select(User.id).where(User.role == "patient", or_(func.lower(User.name).like(like),
                                                                    func.lower(User.email).like(like)))
            query = query.where(AuditEvent.patient_id.in_(ids))
    if wanted.actor_id is not None:
        query = query.where(AuditEvent.actor_id == wanted.actor_id)
    if wanted.appointment_id is not None:
        query = query.where(AuditEvent.appointment_id == wanted.appointment_id)
    if wanted.first_day is not None and wanted.last_day is not None and wanted.last_day < wanted.first_day:
        raise InvalidRequest("The end date is before the start date.")
    if wanted.first_day is not None:
        query = query.where(AuditEvent.at >= local_day_bounds(wanted.first_day, tz).start)
    if wanted.last_day is not None:
        query = query.where(AuditEvent.at < local_day_bounds(wanted.last_day, tz).end)
    if wanted.action.strip():
        query = query.where(AuditEvent.action.like(f"%{wanted.action.strip()}%"))
    page = min(max(page, 1), 100_000)
    rows = list(db.session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                                   .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return Page(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)


def patient_names(ids: set[int]) -> dict[int, str]:
    """Names for the patient ids shown on a page."""
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


# Questionnaire events: the log shows what the answers rule out, never the answers. Events
# written before that rule still hold answers; they are shown the same way.
HEALTH_ACTIONS = frozenset({"intake.saved"})


def readable(action: str, values: dict | None) -> dict | None:
    """What the audit page shows of an event's before/after snapshot."""
    if values and action in HEALTH_ACTIONS:
        return {k: v for k, v in values.items() if k == "rules_out"} or None
    return values


def changed_keys(before: dict | None, after: dict | None) -> list[str]:
    """The keys whose values differ between two snapshots (all keys of a create or delete)."""
    before, after = before or {}, after or {}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def list_outbox(status: str = "", *, page: int = 1) -> Page:
    """Outbox messages, newest first, optionally of one status."""
    query = select(OutboxMessage)
    if status:
        query = query.where(OutboxMessage.status == status)
    page = min(max(page, 1), 100_000)
    rows = list(db.session.scalars(query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
                                   .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return Page(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)


def outbox_counts() -> dict[str, int]:
    """How many messages are in each status."""
    rows = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: count for status, count in rows}


def failed_messages(limit: int = 5) -> tuple[int, list[OutboxMessage]]:
    """How many messages failed for good, and the newest ``limit`` of them (the admin overview)."""
    failed = OutboxMessage.status == "failed"
    count = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(failed)) or 0
    rows = list(db.session.scalars(select(OutboxMessage).where(failed)
                                   .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)))
    return count, rows


def retry_message(actor: Actor, message_id: int, *, now: datetime | None = None) -> bool:
    """Queue a failed message again (the sender's own transaction), then audit who asked."""
    require_front_desk(actor)
    if not sender.retry_failed(message_id, now=now):
        return False
    message = db.session.get(OutboxMessage, message_id)
    audit.record("outbox.retried", actor_id=actor.user_id, entity_type="outbox_message", entity_id=message_id,
                 appointment_id=message.appointment_id if message else None,
                 before={"status": "failed"}, after={"status": "queued"})
    db.session.commit()
    return True
