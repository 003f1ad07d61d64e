"""The rule book: each booking rule written once, as the start times it allows or rules out.

A rule here answers one question: *which start times of a new appointment does this rule rule
out?* The answer is a span of integer start ticks (``timeline``), half-open ``[low, high)``.
Everything else asks these definitions:

- the checks (``conflict_checks``, ``timing_checks``, ``protocol_checks``) ask whether the one
  start they are given falls in a span, and word the problem;
- the free-time search (``availability``) and the series planner (``series``) subtract the
  spans from the working time of each day, so what they offer is exactly what the checks pass.

The rules that do not depend on the time at all (wrong practitioner or room, contraindication,
questionnaire) rule out every start or none and live with the checks. ``reach`` says how far
in time the rules look, so loaders read exactly the appointments a rule can see.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .clock import local_date, local_day_bounds
from .model import BookedAppointment, ClinicPolicy, Interval, Protocol, TreatmentSpec
from .timeline import HOUR, MINUTE, to_ticks

Span = tuple[int, int]
# Beyond any real tick, for spans open on one side.
EARLIEST = -(1 << 62)
LATEST = 1 << 62


# --- when: past, notice, prep lead, horizon ---------------------------------------------------

def not_before_now(now: datetime) -> int:
    """``in_past``: starts before this tick have passed."""
    return to_ticks(now)


def not_before_notice(now: datetime, policy: ClinicPolicy) -> int:
    """``min_notice``: starts before this tick come sooner than the clinic's notice."""
    return to_ticks(now) + policy.min_notice_hours * HOUR


def not_before_prep(now: datetime, protocol: Protocol) -> int:
    """``prep_window``: starts before this tick leave too little time for the longest prep."""
    return to_ticks(now) + protocol.longest_prep_hours * HOUR


def last_bookable_day(now: datetime, policy: ClinicPolicy) -> date:
    """``beyond_horizon``: the last local date bookings are open for."""
    return local_date(now, policy.timezone) + timedelta(days=policy.horizon_days)


def before_horizon(now: datetime, policy: ClinicPolicy) -> int:
    """``beyond_horizon``: starts from this tick (the end of the last bookable day) are too far."""
    return to_ticks(local_day_bounds(last_bookable_day(now, policy), policy.timezone).end)


# --- who: resources held, the patient's own diary, aftercare --------------------------------

def held_block(treatment: TreatmentSpec, other: BookedAppointment) -> Span:
    """``slot_taken``: starts at which the new appointment and ``other`` hold the same resource.

    ``other`` holds ``[start - its buffer before, end + its buffer after)`` and the new one
    ``[t - before, t + duration + after)``; they overlap exactly when
    ``held_start - duration - after < t < held_end + before``.
    """
    duration = treatment.duration_minutes * MINUTE
    held_start = to_ticks(other.start) - other.buffer_before_minutes * MINUTE
    held_end = to_ticks(other.end) + other.buffer_after_minutes * MINUTE
    return (
        held_start - duration - treatment.buffer_after_minutes * MINUTE + 1,
        held_end + treatment.buffer_before_minutes * MINUTE,
    )


def patient_block(duration: int, other: BookedAppointment) -> Span:
    """``patient_busy``: starts at which a new appointment ``duration`` ticks long overlaps
    ``other`` (no buffers: the patient is not held by room turnover)."""
    return to_ticks(other.start) - duration + 1, to_ticks(other.end)


def aftercare_blocks(treatment: TreatmentSpec, other: BookedAppointment) -> list[tuple[Span, bool]]:
    """``aftercare_conflict``: starts at which one of two same-area treatments falls in the
    other's aftercare, each with True when it is the new treatment's own aftercare.

    Aftercare runs from a treatment's end for its ``aftercare_hours``. ``other`` starting
    inside the new one's aftercare: ``t + duration <= other.start < t + duration + mine``.
    The new one starting inside ``other``'s: ``other.end <= t < other.end + its aftercare``.
    Different or unknown body areas never conflict.
    """
    if treatment.body_area is None or other.body_area != treatment.body_area:
        return []
    blocks = []
    mine = treatment.protocol.aftercare_hours * HOUR
    if mine > 0:
        latest = to_ticks(other.start) - treatment.duration_minutes * MINUTE
        blocks.append(((latest - mine + 1, latest + 1), True))
    if other.aftercare_hours > 0:
        end = to_ticks(other.end)
        blocks.append(((end, end + other.aftercare_hours * HOUR), False))
    return blocks


def closure_block(duration: int, closure: Interval) -> Span:
    """``outside_hours`` (a room's closure): starts at which an appointment ``duration`` ticks
    long would meet the closure."""
    return to_ticks(closure.start) - duration + 1, to_ticks(closure.end)


def fitting_starts(duration: int, working: Iterable[Span]) -> list[Span]:
    """``outside_hours``: the starts whose whole appointment lies inside working time.

    ``working`` is merged working time as ticks (hours minus breaks, time off and closures,
    see ``start_sets.WeekShape.working``); ``[t, t + duration)`` fits in ``[s, e)`` exactly
    when ``s <= t <= e - duration`` (``duration`` in ticks).
    """
    return [(s, e - duration + 1) for s, e in working if e - s >= duration]


# --- the protocol: consultation first, spacing of a series ----------------------------------

def consultation_starts_allowed(
    protocol: Protocol, consultation: datetime, tz: str
) -> Span:
    """``consultation_required``: the first-session starts one consultation makes valid.

    Not before the consultation, at least ``consultation_min_days_before`` local days after
    it, and no more than ``consultation_valid_days`` after it.
    """
    earliest_day = local_date(consultation, tz) + timedelta(days=protocol.consultation_min_days_before)
    low = max(to_ticks(consultation), to_ticks(local_day_bounds(earliest_day, tz).start))
    high = to_ticks(consultation + timedelta(days=protocol.consultation_valid_days)) + 1
    return low, high


def consultations_allowed(
    protocol: Protocol, consultations: Iterable[datetime], tz: str
) -> list[Span] | None:
    """The first-session starts some consultation makes valid; None when none is required."""
    if protocol.consultation_treatment_id is None:
        return None
    return [consultation_starts_allowed(protocol, c, tz) for c in consultations]


def consultation_keeps(protocol: Protocol, first_session: datetime, tz: str) -> Span:
    """The same rule seen from the consultation: the consultation starts that still make a
    first session at ``first_session`` valid (used when a consultation is moved)."""
    latest_day = local_date(first_session, tz) - timedelta(days=protocol.consultation_min_days_before)
    low = to_ticks(first_session - timedelta(days=protocol.consultation_valid_days))
    high = min(to_ticks(first_session) + 1, to_ticks(local_day_bounds(latest_day, tz).end))
    return low, high


def spacing_allowed(
    protocol: Protocol, tz: str, *, previous: datetime | None = None, following: datetime | None = None
) -> Span:
    """``interval_too_short`` / ``interval_too_long``: the starts a session may take between
    its series neighbours, counted in local calendar days (a week later at the same wall-clock
    time is 7 days, whatever daylight saving does). Unbounded where the protocol is."""
    low, high = EARLIEST, LATEST
    least, most = protocol.interval_min_days, protocol.interval_max_days
    if previous is not None:
        day = local_date(previous, tz)
        if least is not None:
            low = max(low, _day_start(day + timedelta(days=least), tz))
        if most is not None:
            high = min(high, _day_start(day + timedelta(days=most + 1), tz))
    if following is not None:
        day = local_date(following, tz)
        if most is not None:
            low = max(low, _day_start(day - timedelta(days=most), tz))
        if least is not None:
            high = min(high, _day_start(day - timedelta(days=least - 1), tz))
    return low, high


def gap_days(before: datetime, after: datetime, tz: str) -> int:
    """Local calendar days from one session to the next."""
    return (local_date(after, tz) - local_date(before, tz)).days


def _day_start(day: date, tz: str) -> int:
    """The first tick of a local date."""
    return to_ticks(local_day_bounds(day, tz).start)


# --- how far the rules look ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Reach:
    """How far before a window's start and after its end an appointment can still matter.

    ``resources``: another appointment's held span (buffers) meeting the new one's;
    ``patient_before`` / ``patient_after``: the patient's own appointments, whose aftercare
    (or the new treatment's) can reach across days or weeks.
    """

    resources_before: timedelta
    resources_after: timedelta
    patient_before: timedelta
    patient_after: timedelta


def reach(treatment: TreatmentSpec, treatments: Sequence[TreatmentSpec]) -> Reach:
    """What ``held_block``, ``patient_block`` and ``aftercare_blocks`` can see for ``treatment``.

    Held spans are stored with their buffers, so a held-span query needs only the new
    treatment's own buffers. An earlier appointment of the patient matters while its aftercare
    lasts (the longest of any treatment: it may be of another treatment on the same area), a
    later one while the new treatment's aftercare lasts.
    """
    longest_aftercare = max(
        [treatment.protocol.aftercare_hours, *(t.protocol.aftercare_hours for t in treatments)]
    )
    return Reach(
        resources_before=timedelta(minutes=treatment.buffer_before_minutes),
        resources_after=timedelta(minutes=treatment.duration_minutes + treatment.buffer_after_minutes),
        patient_before=timedelta(hours=longest_aftercare),
        patient_after=timedelta(
            minutes=treatment.duration_minutes, hours=treatment.protocol.aftercare_hours
        ),
    )


def covers(spans: Iterable[Span], tick: int) -> bool:
    """True when ``tick`` lies in one of ``spans``."""
    return any(low <= tick < high for low, high in spans)
