"""Writing audit events inside the use case's transaction."""

from __future__ import annotations

from typing import Any

from booking.extensions import db
from booking.models import Appointment, AuditEvent


def snapshot(appointment: Appointment) -> dict[str, Any]:
    """The audited fields of an appointment, JSON-ready."""
    return {
        "start": appointment.start_at.isoformat(),
        "end": appointment.end_at.isoformat(),
        "practitioner_id": appointment.practitioner_id,
        "room_id": appointment.room_id,
        "status": appointment.status,
        "sequence": appointment.ical_sequence,
        "series_id": appointment.series_id,
        "series_index": appointment.series_index,
    }


def record(
    action: str,
    *,
    actor_id: int | None,
    entity_type: str,
    entity_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    patient_id: int | None = None,
    appointment_id: int | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction."""
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        reason=reason,
        patient_id=patient_id,
        appointment_id=appointment_id,
    )
    db.session.add(event)
    return event


def record_appointment(
    action: str,
    appointment: Appointment,
    *,
    actor_id: int | None,
    before: dict[str, Any] | None = None,
    reason: str | None = None,
    overridden: list[str] | None = None,
) -> AuditEvent:
    """Audit a change to one appointment; ``overridden`` lists the rule codes staff overrode."""
    after = snapshot(appointment)
    if overridden:
        after["overridden"] = overridden
    return record(
        action,
        actor_id=actor_id,
        entity_type="appointment",
        entity_id=appointment.id,
        before=before,
        after=after,
        reason=reason,
        patient_id=appointment.patient_id,
        appointment_id=appointment.id,
    )
