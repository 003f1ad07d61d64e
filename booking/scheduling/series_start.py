"""The first session of a series plan: exactly where the caller asked, or why not.

It is judged by ``check_booking`` itself, the check every booking runs, so a placed first
session is one the booking would accept. Unlike ``free_slots`` it does not require the start to
sit on the slot grid: staff may ask for 10:05.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from .availability import pick_room
from .checks import check_booking
from .text import N_
from .conflict_checks import check_resources
from .model import (
    BookedAppointment,
    ClinicPolicy,
    Interval,
    PlannedSession,
    PractitionerSchedule,
    Problem,
    ProposedSession,
    RoomSchedule,
    TreatmentSpec,
)
from .problems import (
    CONSULTATION_REQUIRED,
    CONTRAINDICATED,
    INTAKE_REQUIRED,
    OUTSIDE_HOURS,
    WRONG_PRACTITIONER,
    WRONG_ROOM,
)

# Problems about the patient's record rather than the time: the session is still placed (and
# the plan still reports them), so staff can override and a patient sees what to do first.
RECORD_CODES = frozenset({CONSULTATION_REQUIRED, CONTRAINDICATED, INTAKE_REQUIRED})


def place_first(
    treatment: TreatmentSpec,
    start: datetime,
    practitioners: Sequence[PractitionerSchedule],
    qualified: Sequence[PractitionerSchedule],
    rooms: Sequence[RoomSchedule],
    booked: Sequence[BookedAppointment],
    policy: ClinicPolicy,
    now: datetime,
    *,
    practitioner_id: int | None,
    patient_id: int | None,
    consultation_starts: Sequence[datetime] = (),
    contraindicated_ids: frozenset[int] = frozenset(),
    intake_missing: bool = False,
) -> tuple[PlannedSession, list[Problem]]:
    """Session 0 at ``start`` with ``practitioner_id`` (or the lowest-id qualified one free).

    ``qualified`` are the practitioners giving the treatment, lowest id first. When nobody is
    free the problems are those of the practitioner closest to being free: one who works then
    but is busy (``slot_taken``) rather than one who does not work (``outside_hours``).
    """
    end = start + timedelta(minutes=treatment.duration_minutes)
    unplaced = PlannedSession(0, start, end, practitioner_id, None, False)
    candidates = [
        p for p in qualified if practitioner_id is None or p.practitioner_id == practitioner_id
    ]
    if not candidates:
        return unplaced, _nobody(treatment, practitioners, practitioner_id)
    room_id = None
    if treatment.needs_room:
        room_id = pick_room(treatment, Interval(start, end), rooms, booked)
        if room_id is None:
            # No free room: ask the rules about a serving one, so they say why (taken, closed).
            serving = sorted(r.room_id for r in rooms if treatment.treatment_id in r.treatment_ids)
            if not serving:
                message = N_("No room is set up for this treatment; please contact the clinic.")
                return unplaced, [Problem(WRONG_ROOM, message, 0)]
            room_id = serving[0]
    room_map = {r.room_id: r for r in rooms}
    closest: list[Problem] | None = None
    for person in candidates:
        found = check_booking(
            treatment,
            [ProposedSession(start, person.practitioner_id, room_id, 0)],
            patient_id=patient_id,
            practitioners={person.practitioner_id: person},
            rooms=room_map,
            booked=booked,
            policy=policy,
            now=now,
            consultation_starts=consultation_starts,
            contraindicated_ids=contraindicated_ids,
            intake_missing=intake_missing,
        )
        if all(p.code in RECORD_CODES for p in found):
            placed = PlannedSession(0, start, end, person.practitioner_id, room_id, True)
            return placed, found
        if closest is None or (_off_duty(closest) and not _off_duty(found)):
            closest = found
    return unplaced, closest or []


def _nobody(
    treatment: TreatmentSpec,
    practitioners: Sequence[PractitionerSchedule],
    practitioner_id: int | None,
) -> list[Problem]:
    """The problem when no candidate practitioner exists at all."""
    if practitioner_id is None:
        message = N_("No practitioner gives this treatment at the moment; please contact the clinic.")
        return [Problem(WRONG_PRACTITIONER, message, 0)]
    asked = next((p for p in practitioners if p.practitioner_id == practitioner_id), None)
    return [p for p in check_resources(treatment, asked, None, 0) if p.code == WRONG_PRACTITIONER]


def _off_duty(problems: list[Problem]) -> bool:
    """True when the problems include not working at that time at all."""
    return any(p.code == OUTSIDE_HOURS for p in problems)
