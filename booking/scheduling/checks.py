"""Every booking rule in one place: the single checks, the whole-booking check, overrides.

The single checks live in ``timing_checks``, ``conflict_checks`` and ``protocol_checks`` (split
by meaning to keep modules short) and are re-exported here, so callers import from one module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from .conflict_checks import (
    as_booked,
    check_aftercare,
    check_contraindicated,
    check_patient_busy,
    check_resources,
    check_slot_taken,
)
from .model import (
    BookedAppointment,
    ClinicPolicy,
    PractitionerSchedule,
    Problem,
    ProposedSession,
    RoomSchedule,
    TreatmentSpec,
)
from .problems import (
    ALL_CODES,
    CONTRAINDICATED,
    IN_PAST,
    INTAKE_REQUIRED,
    PATIENT_BUSY,
    SLOT_TAKEN,
    WRONG_PRACTITIONER,
    WRONG_ROOM,
)
from .protocol_checks import check_consultation, check_intervals, interval_problems
from .text import N_
from .timing_checks import (
    check_cancellation_cutoff,
    check_horizon,
    check_hours,
    check_in_past,
    check_min_notice,
    check_prep_window,
    check_room_open,
)

__all__ = [
    "CONFLICT_CODES",
    "OVERRIDABLE",
    "PRACTITIONER_ONLY",
    "check_aftercare",
    "check_booking",
    "check_cancellation_cutoff",
    "check_consultation",
    "check_contraindicated",
    "check_horizon",
    "check_hours",
    "check_in_past",
    "check_intervals",
    "check_min_notice",
    "check_patient_busy",
    "check_prep_window",
    "check_resources",
    "check_room_open",
    "check_slot_taken",
    "partition_problems",
]

# Staff may override these with a reason; the rest protect other people or make no sense.
OVERRIDABLE = ALL_CODES - {SLOT_TAKEN, PATIENT_BUSY, IN_PAST, WRONG_PRACTITIONER, WRONG_ROOM}
# Clearing a contraindication is a clinical decision.
PRACTITIONER_ONLY = frozenset({CONTRAINDICATED})
# The API answers 409 Conflict for these and 422 for every other problem.
CONFLICT_CODES = frozenset({SLOT_TAKEN, PATIENT_BUSY})


def check_booking(
    treatment: TreatmentSpec,
    sessions: Sequence[ProposedSession],
    *,
    patient_id: int | None,
    practitioners: Mapping[int, PractitionerSchedule],
    rooms: Mapping[int, RoomSchedule],
    booked: Sequence[BookedAppointment],
    policy: ClinicPolicy,
    now: datetime,
    consultation_starts: Sequence[datetime] = (),
    contraindicated_ids: frozenset[int] = frozenset(),
    ignore_ids: frozenset[int] = frozenset(),
    neighbours_before: datetime | None = None,
    neighbours_after: datetime | None = None,
    intake_missing: bool = False,
) -> list[Problem]:
    """Every problem with booking ``sessions`` of ``treatment``, deduplicated, in session order.

    Each session gets every single check; sessions of the request are busy for one another;
    the consultation is checked for the first session when it is index 0 (or has no index);
    spacing is checked along ``neighbours_before``, the sessions, ``neighbours_after``.
    Minimum notice and prep are not reported for a start already in the past (``in_past``
    says it better and cannot be overridden anyway).
    """
    tz = policy.timezone
    ordered = _in_series_order(sessions)
    duration = timedelta(minutes=treatment.duration_minutes)
    # One bucket per session, plus one for the existing session after them.
    buckets: list[list[Problem]] = [[] for _ in range(len(ordered) + 1)]
    pool = list(booked)
    ahead, behind = _reach(treatment, pool)
    for position, session in enumerate(ordered):
        index, start = session.index, session.start
        end = start + duration
        # Only appointments this close can clash (buffers, patient, aftercare): the checks
        # below then go through a handful instead of the whole window's diary.
        low, high = start - behind, end + ahead
        near = [a for a in pool if a.start < high and a.end > low]
        found = buckets[position]
        practitioner = practitioners.get(session.practitioner_id)
        room = rooms.get(session.room_id) if session.room_id is not None else None
        past = check_in_past(start, now, index, tz=tz)
        found += past
        if not past:
            found += check_min_notice(start, now, policy, index)
            found += check_prep_window(start, now, treatment.protocol, index, tz=tz)
        found += check_horizon(start, now, policy, index)
        found += check_resources(treatment, practitioner, room, index)
        if session.room_id is not None and room is None:
            found.append(Problem(WRONG_ROOM, N_("That room does not exist; choose another."), index))
        if practitioner is not None:
            found += check_hours(start, end, practitioner, policy, index)
        if room is not None:
            found += check_room_open(start, end, room, index, tz=tz)
        found += check_slot_taken(
            treatment,
            start,
            end,
            session.practitioner_id,
            session.room_id,
            near,
            ignore_ids,
            index,
            tz=tz,
        )
        found += check_patient_busy(start, end, patient_id, near, ignore_ids, index, tz=tz)
        found += check_aftercare(treatment, start, end, patient_id, near, ignore_ids, index, tz=tz)
        found += check_contraindicated(treatment.treatment_id, contraindicated_ids, index)
        # Later sessions of this same request must not collide with this one.
        pool.append(
            as_booked(
                treatment,
                start,
                session.practitioner_id,
                session.room_id,
                patient_id,
                appointment_id=-(position + 1),
            )
        )

    if ordered and ordered[0].index in (0, None):
        first = ordered[0]
        buckets[0] += check_consultation(
            treatment, first.start, consultation_starts, tz, first.index
        )

    if ordered and intake_missing:
        buckets[0].append(Problem(
            INTAKE_REQUIRED,
            N_("The health questionnaire must be filled in before booking this treatment: on the "
               "web at /me/intake (My account, Health questionnaire), or with PUT /api/v1/intake."),
            ordered[0].index,
        ))

    chain = [(s.start, s.index, position) for position, s in enumerate(ordered)]
    if chain and neighbours_before is not None:
        chain.insert(0, (neighbours_before, _shift(ordered[0].index, -1), -1))
    if chain and neighbours_after is not None:
        chain.append((neighbours_after, _shift(ordered[-1].index, 1), len(ordered)))
    for (s1, i1, _), (s2, i2, bucket) in zip(chain, chain[1:]):
        buckets[bucket] += interval_problems([(s1, i1), (s2, i2)], treatment.protocol, tz)

    return list(dict.fromkeys(p for bucket in buckets for p in bucket))


def _reach(treatment: TreatmentSpec, booked: Sequence[BookedAppointment]) -> tuple[timedelta, timedelta]:
    """How far after a session's end and before its start another appointment can still clash.

    After: it starts inside this session's aftercare, or its buffer before meets this one's
    buffer after. Before: this session starts inside its aftercare, or its buffer after meets
    this one's buffer before. Sessions added by the request have ``treatment``'s own values.
    """
    most_before = max([treatment.buffer_before_minutes, *(a.buffer_before_minutes for a in booked)])
    most_after = max([treatment.buffer_after_minutes, *(a.buffer_after_minutes for a in booked)])
    most_aftercare = max([treatment.protocol.aftercare_hours, *(a.aftercare_hours for a in booked)])
    ahead = max(timedelta(hours=treatment.protocol.aftercare_hours),
                timedelta(minutes=treatment.buffer_after_minutes + most_before))
    behind = max(timedelta(hours=most_aftercare), timedelta(minutes=treatment.buffer_before_minutes + most_after))
    return ahead, behind


def partition_problems(
    problems: Sequence[Problem], *, staff: bool, is_practitioner: bool
) -> tuple[list[Problem], list[Problem]]:
    """Split problems into (overridable, blocking) for the person asking.

    A patient overrides nothing. Staff may override ``OVERRIDABLE`` codes, and the
    ``PRACTITIONER_ONLY`` ones only when they are a practitioner (a practitioner is staff).
    """
    if not (staff or is_practitioner):
        return [], list(problems)
    overridable, blocking = [], []
    for problem in problems:
        allowed = problem.code in OVERRIDABLE and (
            problem.code not in PRACTITIONER_ONLY or is_practitioner
        )
        (overridable if allowed else blocking).append(problem)
    return overridable, blocking


def _in_series_order(sessions: Sequence[ProposedSession]) -> list[ProposedSession]:
    """Sessions by series index when every one has an index, else as given."""
    if all(s.index is not None for s in sessions):
        return sorted(sessions, key=lambda s: s.index or 0)
    return list(sessions)


def _shift(index: int | None, by: int) -> int | None:
    """A neighbouring session's index, unknown when this one has none."""
    return None if index is None else index + by
