"""Applying rule problems to the person asking: refuse, or accept a staff override."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from booking.scheduling.checks import partition_problems
from booking.scheduling.model import Problem
from booking.scheduling.text import N_
from booking.services.actor import Actor
from booking.services.errors import RuleViolation


def decide(actor: Actor, problems: Sequence[Problem], override_reason: str | None) -> list[str]:
    """Raise ``RuleViolation`` unless the booking may go ahead; return the codes overridden.

    Patients get every problem and override nothing. Staff override the overridable codes only
    by giving a reason; conflicts (slot taken, patient busy) are never overridable.
    """
    if not problems:
        return []
    if actor.is_patient:
        raise RuleViolation(problems)
    overridable, blocking = partition_problems(
        problems, staff=True, is_practitioner=actor.role == "practitioner"
    )
    if blocking:
        raise RuleViolation(problems)
    reason = (override_reason or "").strip()
    if not reason:
        codes = ", ".join(sorted({p.code for p in overridable}))
        raise RuleViolation(
            problems,
            message=N_("Rules refuse this (%(codes)s). Staff may override with an override_reason.", codes=codes),
        )
    return sorted({p.code for p in overridable})


# Names of the database's no-overlap rules and the problem each one means.
_OVERLAP_CONSTRAINTS = {
    "ex_appointment_practitioner_overlap": ("slot_taken", N_("The practitioner was booked by someone else a moment ago.")),
    "ex_appointment_room_overlap": ("slot_taken", N_("The room was booked by someone else a moment ago.")),
    "ex_appointment_patient_overlap": ("patient_busy", N_("You already have an appointment at that time.")),
}


def conflict_from_integrity_error(error: IntegrityError, session_index: int | None = None) -> RuleViolation | None:
    """The rule violation a no-overlap constraint failure stands for, or None for other errors."""
    text = str(error.orig)
    for name, (code, message) in _OVERLAP_CONSTRAINTS.items():
        if name in text:
            return RuleViolation([Problem(code, message, session_index)])
    return None
