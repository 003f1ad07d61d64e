"""Free slots the caller could book."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from booking.extensions import db
from booking.models import Treatment
from booking.models.base import utcnow
from booking.scheduling import Slot, check_consultation, free_slots, local_day_bounds
from booking.services import schedules
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import InvalidRequest
from booking.services.loading import load_context, load_treatment, patient_facts

MAX_DAYS = 62


@dataclass(frozen=True)
class Availability:
    """The slots offered, and for which treatment (a patient with no consultation gets the
    consultation's slots first)."""

    treatment: Treatment
    slots: list[Slot]
    asked: Treatment
    note: str | None = None


def available_slots(
    actor: Actor | None,
    *,
    treatment_slug: str,
    first_day: date,
    last_day: date,
    practitioner_id: int | None = None,
    now: datetime | None = None,
) -> Availability:
    """Free slots for ``treatment_slug`` between two local dates (inclusive).

    Slots that would break the prep window or minimum notice are not offered. A patient who
    has no valid consultation for a treatment that needs one sees the consultation's slots,
    and once one is booked, the treatment's slots start where the consultation rule allows.
    """
    if last_day < first_day:
        raise InvalidRequest("end is before start.", code="bad_range")
    if (last_day - first_day).days >= MAX_DAYS:
        raise InvalidRequest(f"Ask for at most {MAX_DAYS} days at a time.", code="range_too_long")
    now = now or utcnow()
    asked = load_treatment(treatment_slug)
    treatment, note = asked, None
    facts = None
    if actor is not None and actor.is_patient and asked.protocol is not None \
            and asked.protocol.consultation_treatment_id is not None:
        facts = patient_facts(actor.user_id, asked)
        consultation = db.session.get(Treatment, asked.protocol.consultation_treatment_id)
        if not facts.consultation_starts and consultation is not None:
            treatment = consultation
            note = (f"{asked.name} needs a consultation first; these are the consultation's free times.")
    spec = schedules.treatment_spec(treatment)
    tz = get_settings().timezone
    context = load_context(local_day_bounds(first_day, tz).start, local_day_bounds(last_day, tz).end,
                           treatment_id=treatment.id,
                           practitioner_ids=[practitioner_id] if practitioner_id is not None else None)
    practitioners = context.practitioner_list
    if practitioner_id is not None:
        practitioners = [p for p in practitioners if p.practitioner_id == practitioner_id]
    slots = free_slots(
        spec, practitioners, context.room_list, context.booked, context.policy, first_day, last_day, now,
        patient_id=actor.user_id if actor is not None and actor.is_patient else None,
        respect_prep=True,
    )
    if treatment is asked and facts is not None and facts.consultation_starts:
        slots = [s for s in slots if not check_consultation(spec, s.start, facts.consultation_starts, tz)]
    return Availability(treatment=treatment, slots=slots, asked=asked, note=note)
