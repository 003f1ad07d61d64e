"""Checks about *who and what*: the right resources, free resources, the patient's own diary.

Each returns a list of :class:`Problem` (empty = allowed). ``ignore_ids`` are the ids of
appointments being moved, so a reschedule never collides with its own old place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from .model import BookedAppointment, PractitionerSchedule, Problem, RoomSchedule, TreatmentSpec
from .rulebook import aftercare_blocks, covers, held_block, patient_block
from .timeline import MINUTE, to_ticks
from .problems import (
    AFTERCARE_CONFLICT,
    CONTRAINDICATED,
    PATIENT_BUSY,
    SLOT_TAKEN,
    WRONG_PRACTITIONER,
    WRONG_ROOM,
    lead_label,
    moment_label,
)
from .text import Moment, N_, Np_, Text, area_label


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
                N_("This practitioner does not give this treatment; choose another practitioner."),
                session_index,
            )
        )
    if room is None and treatment.needs_room:
        problems.append(
            Problem(WRONG_ROOM, N_("This treatment needs a room; choose a room for it."), session_index)
        )
    elif room is not None and tid not in room.treatment_ids:
        problems.append(
            Problem(
                WRONG_ROOM,
                N_("This room is not set up for this treatment; choose another room."),
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
    when = moment_label(start, tz) if tz else None
    problems = []
    if practitioner_busy:
        if "practitioner" not in overlapping and "practitioner" in buffer_only:
            message = buffer_clash_message("practitioner's", treatment, start, end, buffer_only["practitioner"], tz)
        else:
            message = (N_("The practitioner is already booked at %(when)s; choose another time.", when=when)
                       if when else N_("The practitioner is already booked; choose another time."))
        problems.append(Problem(SLOT_TAKEN, message, session_index))
    if room_busy:
        if "room" not in overlapping and "room" in buffer_only:
            message = buffer_clash_message("room's", treatment, start, end, buffer_only["room"], tz)
        else:
            message = (N_("The room for this treatment is already in use at %(when)s; choose another time.",
                          when=when)
                       if when else N_("The room for this treatment is already in use; choose another time."))
        problems.append(Problem(SLOT_TAKEN, message, session_index))
    return problems


def _clean_up(whose: str, n: int) -> Text:
    """``this treatment needs 10 minutes' clean-up after it`` (whose: "this", "that", "it")."""
    if whose == "this":
        return Np_("this treatment needs %(num)d minute's clean-up after it",
                   "this treatment needs %(num)d minutes' clean-up after it", n)
    return Np_("it needs %(num)d minute's clean-up after it", "it needs %(num)d minutes' clean-up after it", n)


def _preparation(whose: str, n: int) -> Text:
    """``that one needs 5 minutes' preparation before it`` (whose: "this", "that")."""
    if whose == "this":
        return Np_("this treatment needs %(num)d minute's preparation before it",
                   "this treatment needs %(num)d minutes' preparation before it", n)
    return Np_("that one needs %(num)d minute's preparation before it",
               "that one needs %(num)d minutes' preparation before it", n)


_HEADS = {
    ("practitioner's", "next"): N_("The practitioner's next appointment starts at %(clock)s"),
    ("room's", "next"): N_("The room's next appointment starts at %(clock)s"),
    ("practitioner's", "previous"): N_("The practitioner's previous appointment ends at %(clock)s"),
    ("room's", "previous"): N_("The room's previous appointment ends at %(clock)s"),
}


def buffer_clash_message(whose: str, treatment: TreatmentSpec, start: datetime, end: datetime,
                         other: BookedAppointment, tz: str | None) -> Text:
    """Why a start is refused when only the buffers (clean-up, preparation) overlap ``other``.

    E.g. "The practitioner's next appointment starts at 10:30; this treatment needs 10 minutes'
    clean-up after it, so it cannot start at 10:00; choose another time."
    """
    def clock(moment: datetime) -> Moment:
        return Moment(moment, tz, "clock")

    start_label = moment_label(start, tz) if tz else clock(start)
    needs: list[Text] = []
    if other.start >= end:
        if treatment.buffer_after_minutes:
            needs.append(_clean_up("this", treatment.buffer_after_minutes))
        if other.buffer_before_minutes:
            needs.append(_preparation("that", other.buffer_before_minutes))
        head = Text(_HEADS[whose, "next"].msgid, {"clock": clock(other.start)})
    else:
        if other.buffer_after_minutes:
            needs.append(_clean_up("it", other.buffer_after_minutes))
        if treatment.buffer_before_minutes:
            needs.append(_preparation("this", treatment.buffer_before_minutes))
        head = Text(_HEADS[whose, "previous"].msgid, {"clock": clock(other.end)})
    need = needs[0] if len(needs) == 1 else N_("%(first)s and %(second)s", first=needs[0], second=needs[1])
    return N_("%(head)s; %(needs)s, so this treatment cannot start at %(start)s; choose another time.",
              head=head, needs=need, start=start_label)


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
    if tz:
        message = N_("You already have an appointment at %(when)s that overlaps this time; choose another time.",
                     when=moment_label(first.start, tz))
    else:
        message = N_("You already have an appointment that overlaps this time; choose another time.")
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
    if patient_id is None or treatment.body_area is None:
        return []
    area = area_label(treatment.body_area)
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
    if mine:
        lead = lead_label(treatment.protocol.aftercare_hours)
        if tz:
            message = N_("Your other %(area)s appointment on %(when)s falls within the %(lead)s aftercare of "
                         "this treatment; choose a date further apart.",
                         area=area, when=moment_label(first.start, tz), lead=lead)
        else:
            message = N_("Your other %(area)s appointment falls within the %(lead)s aftercare of this "
                         "treatment; choose a date further apart.", area=area, lead=lead)
    else:
        lead = lead_label(first.aftercare_hours)
        if tz:
            message = N_("This falls within the %(lead)s aftercare of your %(area)s appointment on %(when)s; "
                         "choose a date further apart.", lead=lead, area=area, when=moment_label(first.start, tz))
        else:
            message = N_("This falls within the %(lead)s aftercare of your %(area)s appointment; choose a "
                         "date further apart.", lead=lead, area=area)
    return [Problem(AFTERCARE_CONFLICT, message, session_index)]


def check_contraindicated(
    treatment_id: int, contraindicated_ids: frozenset[int], session_index: int | None = None
) -> list[Problem]:
    """``contraindicated`` when the patient's intake rules this treatment out (not cleared)."""
    if treatment_id not in contraindicated_ids:
        return []
    message = N_(
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

