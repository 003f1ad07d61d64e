"""Reminders: the appointment reminder (``reminder_hours`` before) and one per prep step that
asks for it (at its lead time), each queued exactly once.

Exactly once: every reminder has a dedupe key naming the appointment, the step and the start
time, unique in the outbox; a moved appointment has a new start and so gets fresh reminders.
A booking made after a reminder was due gets no late reminder for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from booking.database import begin_write
from booking.extensions import db
from booking.mail import notifications
from booking.models import Appointment, OutboxMessage, PrepRule, Protocol, Treatment
from booking.models.base import utcnow
from booking.services.clinic import get_settings


@dataclass
class ReminderReport:
    """How many reminders a run queued."""

    appointment: int = 0
    prep: int = 0


def _key(kind: str, appointment: Appointment, extra: str = "") -> str:
    """The dedupe key of one reminder of one appointment at its current start."""
    return f"{kind}:{appointment.id}:{extra}:{appointment.start_at:%Y%m%dT%H%MZ}"


def queue_due_reminders(now: datetime | None = None) -> ReminderReport:
    """Queue every reminder that is due and not queued yet; safe to run on several servers."""
    now = now or utcnow()
    begin_write(db.session)
    settings = get_settings()
    longest_lead = db.session.scalar(select(func.max(PrepRule.lead_hours))) or 0
    horizon = now + timedelta(hours=max(settings.reminder_hours, longest_lead))
    appointments = db.session.scalars(
        select(Appointment)
        .where(Appointment.status == "booked", Appointment.start_at > now, Appointment.start_at <= horizon)
        .options(
            selectinload(Appointment.patient),
            selectinload(Appointment.treatment).selectinload(Treatment.protocol).selectinload(Protocol.prep_rules),
        )
        .order_by(Appointment.start_at)
    ).all()
    wanted: list[tuple[str, Appointment, object]] = []
    for appointment in appointments:
        due = appointment.start_at - timedelta(hours=settings.reminder_hours)
        if settings.reminder_hours and now >= due and appointment.created_at <= due:
            wanted.append((_key("reminder", appointment), appointment, None))
        protocol = appointment.treatment.protocol
        for rule in protocol.prep_rules if protocol else []:
            due = appointment.start_at - timedelta(hours=rule.lead_hours)
            if rule.remind and now >= due and appointment.created_at <= due:
                wanted.append((_key("prep", appointment, str(rule.id)), appointment, rule))
    if not wanted:
        db.session.rollback()
        return ReminderReport()
    existing = set(db.session.scalars(
        select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_([k for k, _, _ in wanted]))
    ))
    report = ReminderReport()
    for key, appointment, rule in wanted:
        if key in existing:
            continue
        try:
            with db.session.begin_nested():
                if rule is None:
                    notifications.queue_reminder(appointment, settings, key)
                else:
                    notifications.queue_prep_reminder(appointment, rule, settings, key)
        except IntegrityError:
            continue  # another server queued it a moment ago
        if rule is None:
            report.appointment += 1
        else:
            report.prep += 1
    db.session.commit()
    return report
