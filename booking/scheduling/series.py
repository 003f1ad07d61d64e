"""Planning a course of sessions: where each session of a protocol's series would go.

Session 0 is where the caller asked (checked with the same rules a booking is). Each following
session aims at the previous one's date + the target interval, at session 0's wall-clock time,
and otherwise takes the free slot inside ``[min, max]`` days that is closest in days, then in
time of day, preferring session 0's practitioner. Nothing is booked; the plan says which
session could not be placed, why, and what else is free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import ceil

from .availability import free_slots
from .clock import local_date, local_day_bounds, local_to_utc, to_local, working_intervals
from .conflict_checks import as_booked
from .intervals import subtract
from .model import (
    BookedAppointment,
    ClinicPolicy,
    PlannedSession,
    PractitionerSchedule,
    Problem,
    Protocol,
    RoomSchedule,
    SeriesPlan,
    Slot,
    TreatmentSpec,
)
from .problems import (
    AFTERCARE_CONFLICT,
    BEYOND_HORIZON,
    IN_PAST,
    MIN_NOTICE,
    OUTSIDE_HOURS,
    SLOT_TAKEN,
    day_label,
    hours_label,
)
from .series_start import place_first

ALTERNATIVES = 5


@dataclass(frozen=True, slots=True)
class _Request:
    """What every step of one planning run shares."""

    treatment: TreatmentSpec
    qualified: tuple[PractitionerSchedule, ...]
    rooms: Sequence[RoomSchedule]
    policy: ClinicPolicy
    now: datetime
    patient_id: int | None
    blocked_days: frozenset[date]
    wall_time: time

    def free(
        self,
        booked: Sequence[BookedAppointment],
        first: date,
        last: date,
        *,
        respect_prep: bool = False,
    ) -> list[Slot]:
        """Free slots off the blocked days; prep binds only the first session."""
        slots = free_slots(
            self.treatment,
            self.qualified,
            self.rooms,
            booked,
            self.policy,
            first,
            last,
            self.now,
            patient_id=self.patient_id,
            respect_prep=respect_prep,
        )
        if not self.blocked_days:
            return slots
        tz = self.policy.timezone
        return [s for s in slots if local_date(s.start, tz) not in self.blocked_days]


def plan_series(
    treatment: TreatmentSpec,
    first_start: datetime,
    practitioners: Sequence[PractitionerSchedule],
    rooms: Sequence[RoomSchedule],
    booked: Sequence[BookedAppointment],
    policy: ClinicPolicy,
    now: datetime,
    *,
    practitioner_id: int | None = None,
    patient_id: int | None = None,
    avoid_dates: Sequence[date] = (),
    avoid_days_before: int | None = None,
) -> SeriesPlan:
    """Place ``treatment.protocol.sessions`` sessions starting at ``first_start``.

    Deterministic: every choice is made by a total order over the candidates.
    """
    tz = policy.timezone
    protocol = treatment.protocol
    request = _Request(
        treatment=treatment,
        qualified=tuple(
            sorted(
                (p for p in practitioners if treatment.treatment_id in p.treatment_ids),
                key=lambda p: p.practitioner_id,
            )
        ),
        rooms=rooms,
        policy=policy,
        now=now,
        patient_id=patient_id,
        blocked_days=_blocked_days(avoid_dates, avoid_days_before, protocol),
        wall_time=to_local(first_start, tz).time().replace(tzinfo=None, fold=0),
    )
    pool = list(booked)
    first, problems = place_first(
        treatment,
        first_start,
        practitioners,
        request.qualified,
        rooms,
        pool,
        policy,
        now,
        practitioner_id=practitioner_id,
        patient_id=patient_id,
    )
    day = local_date(first_start, tz)
    if first.placed and day in request.blocked_days:
        problems.append(
            Problem(
                AFTERCARE_CONFLICT,
                f"Session 1 on {day_label(day)} is too close to a date you asked to keep "
                "clear; choose an earlier or later first date.",
                0,
            )
        )
    if not first.placed:
        nearby = request.free(
            pool, day - timedelta(days=7), day + timedelta(days=14), respect_prep=True
        )
        first = _with_alternatives(first, nearby, first_start, practitioner_id)
    sessions = [first]
    preferred = first.practitioner_id if first.placed else practitioner_id
    for index in range(1, max(1, protocol.sessions)):
        _hold(request, pool, sessions[-1])
        session, problem, day = _place_next(request, pool, index, day, preferred)
        sessions.append(session)
        if problem is not None:
            problems.append(problem)
    return SeriesPlan(tuple(sessions), tuple(problems))


def _hold(request: _Request, pool: list[BookedAppointment], session: PlannedSession) -> None:
    """Make a placed session busy time (practitioner, room, patient) for the ones after it."""
    if not session.placed or session.practitioner_id is None:
        return
    pool.append(
        as_booked(
            request.treatment,
            session.start,
            session.practitioner_id,
            session.room_id,
            request.patient_id,
            # Negative ids are never stored appointments.
            appointment_id=-(session.index + 1),
        )
    )


def _place_next(
    request: _Request,
    pool: Sequence[BookedAppointment],
    index: int,
    previous_day: date,
    preferred: int | None,
) -> tuple[PlannedSession, Problem | None, date]:
    """Session ``index`` after one on ``previous_day``: (session, problem or None, its date)."""
    tz = request.policy.timezone
    target, low, high = spacing(request.treatment.protocol)
    target_day = previous_day + timedelta(days=target)
    first_day, last_day = previous_day + timedelta(days=low), previous_day + timedelta(days=high)
    wanted = request.wall_time.hour * 60 + request.wall_time.minute
    # Slots of a period running past midnight may start on the day after the window.
    window_start = local_day_bounds(first_day, tz).start
    window_end = local_day_bounds(last_day, tz).end
    in_window = [
        s for s in request.free(pool, first_day, last_day) if window_start <= s.start < window_end
    ]
    if in_window:
        mine = [s for s in in_window if s.practitioner_id == preferred]

        def closeness(slot: Slot) -> tuple[int, int, datetime, int]:
            """Days from the target, then minutes from the wanted time of day, then order."""
            local = to_local(slot.start, tz)
            gap = (local.date() - previous_day).days
            minutes = local.hour * 60 + local.minute
            return abs(gap - target), abs(minutes - wanted), slot.start, slot.practitioner_id

        pick = min(mine or in_window, key=closeness)
        placed = PlannedSession(
            index, pick.start, pick.end, pick.practitioner_id, pick.room_id, True
        )
        return placed, None, local_date(pick.start, tz)

    start = local_to_utc(target_day, request.wall_time, tz)
    duration = timedelta(minutes=request.treatment.duration_minutes)
    nearby = request.free(pool, first_day - timedelta(days=7), last_day + timedelta(days=14))
    missing = PlannedSession(
        index, start, start + duration, preferred, None, False, _nearest(nearby, start)
    )
    code, why = _why_nothing_fits(request, first_day, last_day)
    advice = "choose one of the alternatives" if missing.alternatives else "contact the clinic"
    message = (
        f"Session {index + 1} could not be placed between {day_label(first_day)} and "
        f"{day_label(last_day)}: {why}; {advice}."
    )
    return missing, Problem(code, message, index), target_day


def _why_nothing_fits(request: _Request, first_day: date, last_day: date) -> tuple[str, str]:
    """The code and wording for a window with no usable free slot."""
    policy, tz = request.policy, request.policy.timezone
    last_bookable = local_date(request.now, tz) + timedelta(days=policy.horizon_days)
    if first_day > last_bookable:
        return BEYOND_HORIZON, f"bookings open only up to {day_label(last_bookable)}"
    window_end = local_day_bounds(last_day, tz).end
    if window_end <= request.now:
        return IN_PAST, "those dates have already passed"
    if window_end <= request.now + timedelta(hours=policy.min_notice_hours):
        return MIN_NOTICE, f"bookings need {hours_label(policy.min_notice_hours)}' notice"
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    anyone_works = any(
        subtract(working_intervals(p, day, tz), policy.closures)
        for p in request.qualified
        for day in days
    )
    if not anyone_works:
        return OUTSIDE_HOURS, "no practitioner who gives this treatment works on those days"
    if request.blocked_days.intersection(days):
        return SLOT_TAKEN, "there is no free time outside the dates you asked to keep clear"
    return SLOT_TAKEN, "there is no free time with a practitioner who gives this treatment"


def _with_alternatives(
    session: PlannedSession, slots: list[Slot], target: datetime, practitioner_id: int | None
) -> PlannedSession:
    """``session`` with the free slots nearest ``target``, the asked practitioner's first."""
    own = [s for s in slots if s.practitioner_id == practitioner_id]
    return PlannedSession(
        session.index,
        session.start,
        session.end,
        session.practitioner_id,
        session.room_id,
        False,
        _nearest(own or slots, target),
    )


def _nearest(slots: Sequence[Slot], target: datetime) -> tuple[Slot, ...]:
    """The ``ALTERNATIVES`` slots nearest ``target``, listed in time order."""
    near = sorted(slots, key=lambda s: (abs(s.start - target), s.start, s.practitioner_id))
    return tuple(sorted(near[:ALTERNATIVES], key=lambda s: (s.start, s.practitioner_id)))


def spacing(protocol: Protocol) -> tuple[int, int, int]:
    """The (target, min, max) interval in days, filling in the bounds a protocol left out.

    No target: the middle of min and max, else whichever bound exists, else a week. A missing
    bound is the target itself.
    """
    low, target, high = (
        protocol.interval_min_days,
        protocol.interval_target_days,
        protocol.interval_max_days,
    )
    if target is None:
        if low is not None and high is not None:
            target = (low + high) // 2
        else:
            target = low if low is not None else high if high is not None else 7
    return target, target if low is None else low, target if high is None else high


def _blocked_days(
    avoid_dates: Sequence[date], days_before: int | None, protocol: Protocol
) -> frozenset[date]:
    """Avoid dates and the days before each (by default as many as the aftercare lasts)."""
    if days_before is None:
        days_before = max(1, ceil(protocol.aftercare_hours / 24))
    return frozenset(
        avoid - timedelta(days=n) for avoid in avoid_dates for n in range(days_before + 1)
    )
