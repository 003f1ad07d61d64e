"""The first session of a series plan: exactly where the caller asked, or why not.

It is judged by the same checks a booking runs (timing, hours, room, practitioner and patient
diaries), so a placed first session is one the booking would accept. Unlike ``free_slots`` it
does not require the start to sit on the slot grid: staff may ask for 10:05.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from .availability import pick_room
from .conflict_checks import check_patient_busy, check_resources, check_slot_taken
from .model import (
    BookedAppointment,
    ClinicPolicy,
    Interval,
    PlannedSession,
    PractitionerSchedule,
    Problem,
    RoomSchedule,
    TreatmentSpec,
)
from .problems import OUTSIDE_HOURS, SLOT_TAKEN, WRONG_PRACTITIONER, WRONG_ROOM, at_label
from .timing_checks import (
    check_horizon,
    check_hours,
    check_in_past,
    check_min_notice,
    check_prep_window,
    check_room_open,
)


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
) -> tuple[PlannedSession, list[Problem]]:
    """Session 0 at ``start`` with ``practitioner_id`` (or the lowest-id qualified one free).

    ``qualified`` are the practitioners giving the treatment, lowest id first. When nobody is
    free the problems are the timing ones plus those of the practitioner closest to being
    free: one who works then but is busy (``slot_taken``) rather than one who does not work
    (``outside_hours``).
    """
    tz = policy.timezone
    end = start + timedelta(minutes=treatment.duration_minutes)
    timing = check_in_past(start, now, 0, tz=tz)
    if not timing:
        timing = check_min_notice(start, now, policy, 0)
        timing += check_prep_window(start, now, treatment.protocol, 0, tz=tz)
    timing += check_horizon(start, now, policy, 0)
    unplaced = PlannedSession(0, start, end, practitioner_id, None, False)

    candidates = [
        p for p in qualified if practitioner_id is None or p.practitioner_id == practitioner_id
    ]
    if not candidates:
        return unplaced, timing + _nobody(treatment, practitioners, practitioner_id)
    # Every check below looks only at appointments overlapping the session; find them once.
    nearby = _touching(treatment, start, end, booked)
    # The room and the patient's diary are the same whoever gives the session.
    room_id = None
    shared = []
    if treatment.needs_room:
        room_id = pick_room(treatment, Interval(start, end), rooms, nearby)
        if room_id is None:
            shared += _no_room(treatment, start, end, rooms, tz)
    shared += check_patient_busy(start, end, patient_id, nearby, session_index=0, tz=tz)
    closest: list[Problem] | None = None
    for person in candidates:
        found = check_hours(start, end, person, policy, 0)
        found += check_slot_taken(
            treatment, start, end, person.practitioner_id, None, nearby, session_index=0, tz=tz
        )
        found += shared
        if not found:
            if timing:
                return unplaced, timing
            placed = PlannedSession(0, start, end, person.practitioner_id, room_id, True)
            return placed, []
        if closest is None or (_off_duty(closest) and not _off_duty(found)):
            closest = found
    return unplaced, timing + (closest or [])


def _touching(
    treatment: TreatmentSpec, start: datetime, end: datetime, booked: Sequence[BookedAppointment]
) -> list[BookedAppointment]:
    """The appointments the room, practitioner and patient checks of ``[start, end)`` can see.

    Those whose buffered span overlaps the session's buffered span (room and practitioner)
    or whose own span overlaps the session (patient); the checks ignore every other one.
    """
    low = start - timedelta(minutes=treatment.buffer_before_minutes)
    high = end + timedelta(minutes=treatment.buffer_after_minutes)
    return [
        a
        for a in booked
        if (a.start < end and start < a.end)
        or (
            a.start - timedelta(minutes=a.buffer_before_minutes) < high
            and low < a.end + timedelta(minutes=a.buffer_after_minutes)
        )
    ]


def _no_room(
    treatment: TreatmentSpec, start: datetime, end: datetime, rooms: Sequence[RoomSchedule], tz: str
) -> list[Problem]:
    """Why no room can be had: none serves the treatment, all are closed, or all are in use."""
    serving = [r for r in rooms if treatment.treatment_id in r.treatment_ids]
    if not serving:
        message = "No room is set up for this treatment; please contact the clinic."
        return [Problem(WRONG_ROOM, message, 0)]
    closed = [check_room_open(start, end, r, 0, tz=tz) for r in serving]
    if all(closed):
        return closed[0]
    message = f"Every room for this treatment is in use{at_label(start, tz)}; choose another time."
    return [Problem(SLOT_TAKEN, message, 0)]


def _nobody(
    treatment: TreatmentSpec,
    practitioners: Sequence[PractitionerSchedule],
    practitioner_id: int | None,
) -> list[Problem]:
    """The problem when no candidate practitioner exists at all."""
    if practitioner_id is None:
        message = "No practitioner gives this treatment at the moment; please contact the clinic."
        return [Problem(WRONG_PRACTITIONER, message, 0)]
    asked = next((p for p in practitioners if p.practitioner_id == practitioner_id), None)
    return [p for p in check_resources(treatment, asked, None, 0) if p.code == WRONG_PRACTITIONER]


def _off_duty(problems: list[Problem]) -> bool:
    """True when the problems include not working at that time at all."""
    return any(p.code == OUTSIDE_HOURS for p in problems)
