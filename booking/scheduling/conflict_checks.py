"""Checks about *who and what*: the right resources, free resources, the patient's own diary.

Each returns a list of :class:`Problem` (empty = allowed). ``ignore_ids`` are the ids of
appointments being moved, so a reschedule never collides with its own old place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from .model import BookedAppointment, PractitionerSchedule, Problem, RoomSchedule, TreatmentSpec
from .rulebook import aftercare_blocks, covers, held_block, patient_block
from .clock import to_local
from .timeline import MINUTE, to_ticks
from .problems import (
    AFTERCARE_CONFLICT,
    CONTRAINDICATED,
    PATIENT_BUSY,
    SLOT_TAKEN,
    WRONG_PRACTITIONER,
    WRONG_ROOM,
    at_label,
    lead_label,
    moment_label,
)


def check_resources(
    treatment: TreatmentSpec,
    practitioner: PractitionerSchedule | None,
    room: RoomSchedule | None,
    session_index: int | None = None,
) -> list[Problem]:
    """``wrong_practitioner`` / ``wrong_room`` when a resource does not give/serve the treatment.

    A missing room is wrong when the treatment needs one; a given room must serve it.
    """
    problems = []
    tid = treatment.treatment_id
    if practitioner is None or tid not in practitioner.treatment_ids:
        problems.append(
            Problem(
                WRONG_PRACTITIONER,
                "This practitioner does not give this treatment; choose another practitioner.",
                session_index,
            )
        )
    if room is None and treatment.needs_room:
        problems.append(
            Problem(WRONG_ROOM, "This treatment needs a room; choose a room for it.", session_index)
        )
    elif room is not None and tid not in room.treatment_ids:
        problems.append(
            Problem(
                WRONG_ROOM,
                "This room is not set up for this treatment; choose another room.",
                session_index,
            )
        )
    return problems


def check_slot_taken(
    treatment: TreatmentSpec,
    start: datetime,
    end: datetime,
    practitioner_id: int,
    room_id: int | None,
    booked: Iterable[BookedAppointment],
    ignore_ids: frozenset[int] = frozenset(),
    session_index: int | None = None,
    *,
    tz: str | None = None,
) -> list[Problem]:
    """``slot_taken`` when the practitioner or the room is busy, buffers included.

    The new appointment occupies ``[start - buffer_before, end + buffer_after]`` and each booked
    one its own buffered span; they clash when those spans overlap on the same practitioner or
    the same room. At most one problem per resource.
    """
    tick = to_ticks(start)
    duration = treatment.duration_minutes * MINUTE
    practitioner_busy = room_busy = False
    # A clash where the appointments themselves do not overlap is the buffers' doing; the first
    # such neighbour per resource is named in the message instead of "already booked".
    buffer_only: dict[str, BookedAppointment] = {}
    overlapping: set[str] = set()
    for a in booked:
        if a.appointment_id in ignore_ids:
            continue
        same_practitioner = a.practitioner_id == practitioner_id
        same_room = room_id is not None and a.room_id == room_id
        if not (same_practitioner or same_room):
            continue
        low, high = held_block(treatment, a)
        if low <= tick < high:
            practitioner_busy = practitioner_busy or same_practitioner
            room_busy = room_busy or same_room
            # The appointments themselves (no buffers) overlap: the same span as the patient's rule.
            bare_low, bare_high = patient_block(duration, a)
            for resource, same in (("practitioner", same_practitioner), ("room", same_room)):
                if not same:
                    continue
                if bare_low <= tick < bare_high:
                    overlapping.add(resource)
                else:
                    buffer_only.setdefault(resource, a)
    when = at_label(start, tz)
    problems = []
    if practitioner_busy:
        if "practitioner" not in overlapping and "practitioner" in buffer_only:
            message = buffer_clash_message("practitioner's", treatment, start, end, buffer_only["practitioner"], tz)
        else:
            message = f"The practitioner is already booked{when}; choose another time."
        problems.append(Problem(SLOT_TAKEN, message, session_index))
    if room_busy:
        if "room" not in overlapping and "room" in buffer_only:
            message = buffer_clash_message("room's", treatment, start, end, buffer_only["room"], tz)
        else:
            message = f"The room for this treatment is already in use{when}; choose another time."
        problems.append(Problem(SLOT_TAKEN, message, session_index))
    return problems


def _minutes(n: int) -> str:
    """``1 minute's`` or ``N minutes'`` (as in "10 minutes' clean-up")."""
    return "1 minute's" if n == 1 else f"{n} minutes'"


def buffer_clash_message(whose: str, treatment: TreatmentSpec, start: datetime, end: datetime,
                         other: BookedAppointment, tz: str | None) -> str:
    """Why a start is refused when only the buffers (clean-up, preparation) overlap ``other``.

    E.g. "The practitioner's next appointment starts at 10:30; this treatment needs 10 minutes'
    clean-up after it, so it cannot start at 10:00; choose another time."
    """
    def clock(moment: datetime) -> str:
        return f"{to_local(moment, tz):%H:%M}" if tz else f"{moment:%H:%M} UTC"

    start_label = moment_label(start, tz) if tz else clock(start)
    if other.start >= end:
        needs = []
        if treatment.buffer_after_minutes:
            needs.append(f"this treatment needs {_minutes(treatment.buffer_after_minutes)} clean-up after it")
        if other.buffer_before_minutes:
            needs.append(f"that one needs {_minutes(other.buffer_before_minutes)} preparation before it")
        head = f"The {whose} next appointment starts at {clock(other.start)}"
    else:
        needs = []
        if other.buffer_after_minutes:
            needs.append(f"it needs {_minutes(other.buffer_after_minutes)} clean-up after it")
        if treatment.buffer_before_minutes:
            needs.append(f"this treatment needs {_minutes(treatment.buffer_before_minutes)} preparation before it")
        head = f"The {whose} previous appointment ends at {clock(other.end)}"
    return (f"{head}; {' and '.join(needs)}, so this treatment cannot start at {start_label}; "
            f"choose another time.")


def check_patient_busy(
    start: datetime,
    end: datetime,
    patient_id: int | None,
    booked: Iterable[BookedAppointment],
    ignore_ids: frozenset[int] = frozenset(),
    session_index: int | None = None,
    *,
    tz: str | None = None,
) -> list[Problem]:
    """``patient_busy`` when the patient has another appointment overlapping (no buffers)."""
    if patient_id is None:
        return []
    tick, duration = to_ticks(start), to_ticks(end) - to_ticks(start)
    clashes = [
        a
        for a in booked
        if a.patient_id == patient_id
        and a.appointment_id not in ignore_ids
        and covers((patient_block(duration, a),), tick)
    ]
    if not clashes:
        return []
    # Name the earliest clash, so the message does not depend on the order of ``booked``.
    first = min(clashes, key=lambda a: (a.start, a.appointment_id))
    message = (
        f"You already have an appointment{at_label(first.start, tz)} that overlaps this "
        "time; choose another time."
    )
    return [Problem(PATIENT_BUSY, message, session_index)]


def check_aftercare(
    treatment: TreatmentSpec,
    start: datetime,
    end: datetime,
    patient_id: int | None,
    booked: Iterable[BookedAppointment],
    ignore_ids: frozenset[int] = frozenset(),
    session_index: int | None = None,
    *,
    tz: str | None = None,
) -> list[Problem]:
    """``aftercare_conflict`` when two treatments of one body area fall in each other's aftercare.

    Either another appointment of the patient on the same body area starts inside
    ``[end, end + this aftercare)``, or this one starts inside
    ``[other.end, other.end + other.aftercare_hours)``.
    """
    area = treatment.body_area
    if patient_id is None or area is None:
        return []
    tick = to_ticks(start)
    clashes = []
    for a in booked:
        if a.patient_id != patient_id or a.appointment_id in ignore_ids:
            continue
        hits = [mine for span, mine in aftercare_blocks(treatment, a) if covers((span,), tick)]
        if hits:
            clashes.append((a, hits[0]))
    if not clashes:
        return []
    # Name the earliest clash, so the message does not depend on the order of ``booked``.
    first, mine = min(clashes, key=lambda pair: (pair[0].start, pair[0].appointment_id))
    other = f" on {moment_label(first.start, tz)}" if tz else ""
    if mine:
        message = (
            f"Your other {area} appointment{other} falls within the "
            f"{lead_label(treatment.protocol.aftercare_hours)} aftercare of this treatment; "
            "choose a date further apart."
        )
    else:
        message = (
            f"This falls within the {lead_label(first.aftercare_hours)} aftercare of your "
            f"{area} appointment{other}; choose a date further apart."
        )
    return [Problem(AFTERCARE_CONFLICT, message, session_index)]


def check_contraindicated(
    treatment_id: int, contraindicated_ids: frozenset[int], session_index: int | None = None
) -> list[Problem]:
    """``contraindicated`` when the patient's intake rules this treatment out (not cleared)."""
    if treatment_id not in contraindicated_ids:
        return []
    message = (
        "Your health questionnaire shows this treatment may not be safe for you; a practitioner "
        "needs to review it with you before it can be booked."
    )
    return [Problem(CONTRAINDICATED, message, session_index)]


def as_booked(
    treatment: TreatmentSpec,
    start: datetime,
    practitioner_id: int,
    room_id: int | None,
    patient_id: int | None,
    *,
    appointment_id: int,
) -> BookedAppointment:
    """A session not yet booked, as the rules see a booked one (busy for later sessions).

    Callers give negative ids, which no stored appointment (nor ``ignore_ids``) can have.
    """
    return BookedAppointment(
        appointment_id=appointment_id,
        # With no patient named, patient checks are skipped, so any id will do.
        patient_id=patient_id if patient_id is not None else -1,
        practitioner_id=practitioner_id,
        room_id=room_id,
        treatment_id=treatment.treatment_id,
        body_area=treatment.body_area,
        start=start,
        end=start + timedelta(minutes=treatment.duration_minutes),
        buffer_before_minutes=treatment.buffer_before_minutes,
        buffer_after_minutes=treatment.buffer_after_minutes,
        aftercare_hours=treatment.protocol.aftercare_hours,
        kind=treatment.kind,
    )

