"""The series planner against a frozen copy of itself from before it worked on ticks.

The planner was made faster by choosing each session among integer start ticks and building
datetimes only for the winner. Its answers must not change at all, so the code as it was
(``plan_series`` with the free-slot search and first-session placement it called) is kept
below verbatim as the reference, and both are run on random clinics: several practitioners
with their own hours, breaks, exceptions and time off, rooms with closures, a booked diary,
dates to keep clear, a preferred practitioner or none, and windows where nothing fits.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import ceil

from hypothesis import given, settings
from hypothesis import strategies as st
from scheduling_factories import (
    PATIENT_ID,
    PROPERTY_SETTINGS,
    TREATMENT_ID,
    TZ,
    local,
    make_booked,
    make_policy,
    make_practitioner,
    make_prep,
    make_room,
    make_series_protocol,
    make_treatment,
)

from booking.scheduling import series as current
from booking.scheduling import availability as current_availability
from booking.scheduling.clock import (
    ONE_DAY,
    local_date,
    local_day_bounds,
    local_to_utc,
    to_local,
    working_intervals,
)
from booking.scheduling.conflict_checks import (
    as_booked,
    check_patient_busy,
    check_resources,
    check_slot_taken,
)
from booking.scheduling.intervals import merge_pairs, subtract, subtract_pairs
from booking.scheduling.model import (
    BookedAppointment,
    ClinicPolicy,
    DateException,
    Interval,
    LocalPeriod,
    PlannedSession,
    PractitionerSchedule,
    Problem,
    Protocol,
    RoomSchedule,
    SeriesPlan,
    Slot,
    TreatmentSpec,
)
from booking.scheduling.problems import (
    AFTERCARE_CONFLICT,
    BEYOND_HORIZON,
    IN_PAST,
    MIN_NOTICE,
    OUTSIDE_HOURS,
    SLOT_TAKEN,
    WRONG_PRACTITIONER,
    WRONG_ROOM,
    at_label,
    day_label,
    hours_label,
)
from booking.scheduling.start_sets import WeekShape, grid, overlay
from booking.scheduling.timeline import DAY, HOUR, MINUTE, SpanList, from_ticks, to_ticks
from booking.scheduling.timing_checks import (
    check_horizon,
    check_hours,
    check_in_past,
    check_min_notice,
    check_prep_window,
    check_room_open,
)

Span = tuple[int, int]

# ---------------------------------------------------------------------------------------------
# The reference: verbatim copies of the code at the commit before the tick-level planner, from
# start_sets.py (BlockedStarts, RoomCover), availability.py (pick_room onwards),
# series_start.py (place_first onwards) and series.py (ALTERNATIVES onwards). The helpers they
# use and that did not change (clock, checks, intervals, timeline, WeekShape, grid, overlay)
# are imported above.
# ---------------------------------------------------------------------------------------------


class BlockedStarts:
    """Starts of the new appointment that collide with booked ones, per resource.

    An existing appointment occupies ``[os, oe)`` (its buffers included) and the new one
    ``[t - before, t + duration + after)``; they overlap exactly when
    ``os - duration - after < t < oe + before``, i.e. for integer ticks ``t`` in
    ``[os - duration - after + 1, oe + before)``. For the patient there are no buffers.
    """

    def __init__(
        self,
        treatment: TreatmentSpec,
        booked: Iterable[BookedAppointment],
        low: int,
        high: int,
        patient_id: int | None,
    ) -> None:
        """Index the blocked starts of every booked appointment near ``[low, high)``."""
        duration = treatment.duration_minutes * MINUTE
        before = treatment.buffer_before_minutes * MINUTE
        after = treatment.buffer_after_minutes * MINUTE
        by_practitioner: dict[int, list[Span]] = defaultdict(list)
        by_room: dict[int, list[Span]] = defaultdict(list)
        mine: list[Span] = []
        # This loop runs once per booked appointment, so it keeps to plain local arithmetic.
        lead = duration + after - 1
        # Callers pad the window by days, so comparing the bare appointment (no buffers) with
        # it skips the far-away ones before paying for their conversion to ticks.
        low_moment, high_moment = from_ticks(low), from_ticks(high)
        for a in booked:
            if a.end < low_moment or a.start > high_moment:
                continue
            start, end = to_ticks(a.start), to_ticks(a.end)
            span_start = start - a.buffer_before_minutes * MINUTE - lead
            span_end = end + a.buffer_after_minutes * MINUTE + before
            # The patient's span lies inside this one, so the window test covers both.
            if span_end <= low or span_start >= high:
                continue
            span = (span_start, span_end)
            by_practitioner[a.practitioner_id].append(span)
            if a.room_id is not None:
                by_room[a.room_id].append(span)
            if a.patient_id == patient_id:
                mine.append((start - duration + 1, end))
        self._practitioners = {k: SpanList(v) for k, v in by_practitioner.items()}
        self._room_spans = by_room
        self._empty = SpanList(())
        self.patient = SpanList(mine)
        self.duration = duration

    def practitioner(self, practitioner_id: int) -> SpanList:
        """Blocked starts for one practitioner."""
        return self._practitioners.get(practitioner_id, self._empty)

    def room(self, room_id: int, closures: Iterable[Interval]) -> SpanList:
        """Blocked starts for one room: its bookings plus starts that would meet a closure."""
        spans = [(to_ticks(c.start) - self.duration + 1, to_ticks(c.end)) for c in closures]
        return SpanList(spans + self._room_spans.get(room_id, []))


class RoomCover:
    """For each start time, the lowest-id room free for the treatment then.

    The answer depends on the day, not on the practitioner, so each day is worked out once
    and shared by every practitioner's search.
    """

    def __init__(
        self, treatment: TreatmentSpec, rooms: Sequence[RoomSchedule], blocked: BlockedStarts
    ) -> None:
        """The serving rooms, lowest id first, with their blocked starts."""
        serving = sorted(
            (r for r in rooms if treatment.treatment_id in r.treatment_ids),
            key=lambda r: r.room_id,
        )
        self._rooms = [(r.room_id, blocked.room(r.room_id, r.closures)) for r in serving]
        self._days: dict[Span, list[tuple[int, int, int]]] = {}

    def over(self, window: Span) -> list[tuple[int, int, int]]:
        """``(start, end, room_id)`` pieces covering the free starts in ``window``, in order.

        Room by room, the starts a room can take are given to it and only the rest are offered
        to the next, so each start gets the lowest free id.
        """
        cached = self._days.get(window)
        if cached is not None:
            return cached
        pieces: list[tuple[int, int, int]] = []
        remaining = [window]
        for room_id, held in self._rooms:
            if not remaining:
                break
            free = subtract_pairs(remaining, held.within(remaining[0][0], remaining[-1][1]))
            pieces.extend((s, e, room_id) for s, e in free)
            remaining = subtract_pairs(remaining, free)
        pieces.sort()
        self._days[window] = pieces
        return pieces


def pick_room(
    treatment: TreatmentSpec,
    occupied: Interval,
    rooms: Sequence[RoomSchedule],
    booked: Sequence[BookedAppointment],
    *,
    ignore_ids: frozenset[int] = frozenset(),
) -> int | None:
    """The lowest-id room that serves ``treatment`` and is open and free for it, or None.

    ``occupied`` is the appointment itself, ``[start, end)``: the room must not be closed
    during it, and the treatment's buffers are added here before comparing with the buffered
    spans of the room's booked appointments. ``ignore_ids`` are appointments being moved.
    """
    before = timedelta(minutes=treatment.buffer_before_minutes)
    after = timedelta(minutes=treatment.buffer_after_minutes)
    start, end = occupied.start - before, occupied.end + after
    # One pass over the diary for all rooms, rather than one per room.
    in_use = {
        a.room_id
        for a in booked
        if a.room_id is not None
        and a.appointment_id not in ignore_ids
        and a.start - timedelta(minutes=a.buffer_before_minutes) < end
        and start < a.end + timedelta(minutes=a.buffer_after_minutes)
    }
    serving = sorted(
        (r for r in rooms if treatment.treatment_id in r.treatment_ids), key=lambda r: r.room_id
    )
    for room in serving:
        if room.room_id not in in_use and not any(c.overlaps(occupied) for c in room.closures):
            return room.room_id
    return None


def free_slots(
    treatment: TreatmentSpec,
    practitioners: Sequence[PractitionerSchedule],
    rooms: Sequence[RoomSchedule],
    booked: Sequence[BookedAppointment],
    policy: ClinicPolicy,
    first_day: date,
    last_day: date,
    now: datetime,
    *,
    patient_id: int | None = None,
    respect_prep: bool = True,
) -> list[Slot]:
    """Every bookable start for ``treatment`` on local days ``first_day..last_day``.

    Sorted by (start, practitioner_id); each slot names the practitioner and, when the
    treatment needs one, the lowest-id free room. See the module docstring for the method.
    """
    tz = policy.timezone
    lead_hours = policy.min_notice_hours
    if respect_prep:
        lead_hours = max(lead_hours, treatment.protocol.longest_prep_hours)
    last_bookable = to_local(now, tz).date() + timedelta(days=policy.horizon_days)
    last_day = min(last_day, last_bookable)
    staff = sorted(
        (p for p in practitioners if treatment.treatment_id in p.treatment_ids),
        key=lambda p: p.practitioner_id,
    )
    if first_day > last_day or not staff:
        return []
    # Two days' margin on both sides, for periods that run past midnight.
    low = to_ticks(local_day_bounds(first_day, tz).start) - 2 * DAY
    high = to_ticks(local_day_bounds(last_day, tz).end) + 2 * DAY
    blocked = BlockedStarts(treatment, booked, low, high, patient_id)
    search = _Search(
        treatment=treatment,
        policy=policy,
        blocked=blocked,
        rooms=RoomCover(treatment, rooms, blocked) if treatment.needs_room else None,
        earliest=to_ticks(now) + lead_hours * HOUR,
        # Starts must fall on or before the last bookable local date.
        latest=to_ticks(local_day_bounds(last_bookable, tz).end),
    )
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    found: list[tuple[int, int, int | None]] = []
    for person in staff:
        found.extend(search.starts_for(person, days))
    # (start, practitioner) never repeats, so plain tuple order is (start, practitioner).
    found.sort()
    return _as_slots(found, search.duration)


class _Search:
    """One free-slot search: what is shared by every practitioner and day."""

    def __init__(
        self,
        *,
        treatment: TreatmentSpec,
        policy: ClinicPolicy,
        blocked: BlockedStarts,
        rooms: RoomCover | None,
        earliest: int,
        latest: int,
    ) -> None:
        """Keep the shared inputs, in ticks."""
        self.tz = policy.timezone
        self.duration = treatment.duration_minutes * MINUTE
        self.step = max(1, policy.slot_step_minutes) * MINUTE
        self.closures = [(to_ticks(c.start), to_ticks(c.end)) for c in policy.closures]
        self.blocked = blocked
        self.rooms = rooms
        self.earliest = earliest
        self.latest = latest
        self._windows: dict[date, tuple[int, int]] = {}

    def starts_for(
        self, person: PractitionerSchedule, days: list[date]
    ) -> list[tuple[int, int, int | None]]:
        """``(start tick, practitioner id, room id)`` of every free start for one person."""
        away = SpanList(
            [(to_ticks(t.start), to_ticks(t.end)) for t in person.time_off] + self.closures
        )
        busy = self.blocked.practitioner(person.practitioner_id)
        patient = self.blocked.patient
        shape = WeekShape(person)
        duration, step, pid = self.duration, self.step, person.practitioner_id
        found: list[tuple[int, int, int | None]] = []
        for day in days:
            periods = shape.periods(day, self.tz)
            if not periods:
                continue
            day_low, day_high = periods[0][0], max(e for _, e in periods)
            cuts = merge_pairs(shape.breaks(day, self.tz) + away.within(day_low, day_high))
            working = subtract_pairs(merge_pairs(periods), cuts)
            # Allowed starts keep [start, start + duration) inside working time; as ticks,
            # "start <= end - duration" is the half-open span up to end - duration + 1.
            starts = [
                (max(s, self.earliest), min(e - duration + 1, self.latest))
                for s, e in working
                if e - s >= duration
            ]
            starts = [(s, e) for s, e in starts if s < e]
            if not starts:
                continue
            lo, hi = starts[0][0], starts[-1][1]
            starts = subtract_pairs(starts, busy.within(lo, hi))
            if patient:
                starts = subtract_pairs(starts, patient.within(lo, hi))
            if self.rooms is None:
                pieces: list[tuple[int, int, int | None]] = [(s, e, None) for s, e in starts]
            else:
                pieces = overlay(starts, self.rooms.over(self._day_window(day)))
            day_found = [
                (tick, pid, room_id)
                for anchor, period_end in periods
                for s, e, room_id in pieces
                for tick in grid(anchor, step, max(s, anchor), min(e, period_end))
            ]
            if len(periods) > 1:
                # Overlapping periods can offer the same start twice.
                day_found = list(set(day_found))
            found.extend(day_found)
        if shape.overnight:
            # A period running past midnight can overlap the next day's and repeat its starts.
            found = list(set(found))
        return found

    def _day_window(self, day: date) -> tuple[int, int]:
        """Ticks from the local day's start to the next day's end.

        That holds every start a period beginning on ``day`` can offer (periods may run past
        midnight); cached, since every practitioner asks for the same days.
        """
        window = self._windows.get(day)
        if window is None:
            window = self._windows[day] = (
                to_ticks(local_day_bounds(day, self.tz).start),
                to_ticks(local_day_bounds(day + ONE_DAY, self.tz).end),
            )
        return window


def _as_slots(found: list[tuple[int, int, int | None]], duration: int) -> list[Slot]:
    """Slots from sorted ``(start tick, practitioner, room)``; building them is the main cost.

    Practitioners share grid times, so each start's datetimes are made once and reused.
    """
    length = timedelta(microseconds=duration)
    moments: dict[int, tuple[datetime, datetime]] = {}
    slots = []
    for tick, practitioner_id, room_id in found:
        pair = moments.get(tick)
        if pair is None:
            start = from_ticks(tick)
            pair = moments[tick] = (start, start + length)
        slots.append(Slot(pair[0], pair[1], practitioner_id, room_id))
    return slots


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
    # The room and the patient's diary are the same whoever gives the session.
    room_id = None
    shared = []
    if treatment.needs_room:
        room_id = pick_room(treatment, Interval(start, end), rooms, booked)
        if room_id is None:
            shared += _no_room(treatment, start, end, rooms, tz)
    shared += check_patient_busy(start, end, patient_id, booked, session_index=0, tz=tz)
    closest: list[Problem] | None = None
    for person in candidates:
        found = check_hours(start, end, person, policy, 0)
        found += check_slot_taken(
            treatment, start, end, person.practitioner_id, None, booked, session_index=0, tz=tz
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


# ---------------------------------------------------------------------------------------------
# Random clinics, and the comparisons.
# ---------------------------------------------------------------------------------------------

# An ordinary spell, both daylight-saving transitions of 2026 (29 Mar, 25 Oct) and a quiet week.
BASE_DAYS = [date(2026, 3, 9), date(2026, 3, 20), date(2026, 10, 12), date(2026, 6, 1)]
PRACTITIONER_IDS = (1, 2, 3, 4, 5)
ROOM_IDS = (1, 2, 3)
SPAN_DAYS = 50
# No room at all now and then: a treatment that needs one can then never be placed.
ROOM_COUNTS = (0, 1, 1, 2, 3)


def at(minute: int) -> time:
    """A wall-clock time from minutes after midnight (1440 is midnight again)."""
    return time((minute // 60) % 24, minute % 60)


@st.composite
def clinics(draw):
    """A random clinic, diary and series request; dense enough that some windows stay empty.

    Hypothesis draws the shape of the case (how many of each thing, which rules); the many
    small details (times, days, lengths) come from a seeded ``Random``, which keeps the
    generation quick enough for a few hundred cases per run.
    """
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    base = draw(st.sampled_from(BASE_DAYS))
    days = [base + timedelta(days=n) for n in range(SPAN_DAYS)]

    def moment(first_hour=6, last_hour=21):
        d = rnd.choice(days)
        minute = 5 * rnd.randint(first_hour * 12, last_hour * 12)
        return local(d.year, d.month, d.day, minute // 60, minute % 60)

    def span(max_minutes):
        start = moment()
        return Interval(start, start + timedelta(minutes=5 * rnd.randint(1, max_minutes // 5)))

    def weekly(shape):
        weekdays = sorted(rnd.sample(range(7), rnd.randint(1, 7)))
        if shape == "overnight":
            begin, end = 5 * rnd.randint(17 * 12, 21 * 12), 5 * rnd.randint(0, 4 * 12)
            return tuple(LocalPeriod(d, at(begin), at(end)) for d in weekdays)
        begin = 5 * rnd.randint(7 * 12, 11 * 12)
        end = 5 * rnd.randint(begin // 5 + 6, 20 * 12)
        if shape == "day":
            return tuple(LocalPeriod(d, at(begin), at(end)) for d in weekdays)
        later = 5 * rnd.randint(end // 5, 21 * 12)
        last = 5 * rnd.randint(later // 5 + 1, 23 * 12)
        return tuple(
            period
            for d in weekdays
            for period in (LocalPeriod(d, at(begin), at(end)), LocalPeriod(d, at(later), at(last)))
        )

    def exception():
        periods = ()
        if rnd.random() < 0.5:
            begin = 5 * rnd.randint(7 * 12, 14 * 12)
            periods = ((at(begin), at(begin + 5 * rnd.randint(6, 8 * 12))),)
        return DateException(rnd.choice(days), periods)

    def absence():
        """Now and then weeks away, so the preferred practitioner misses whole windows."""
        if rnd.random() < 0.6:
            return ()
        start = local_to_utc(base + timedelta(days=rnd.randint(3, 20)), time(0), TZ)
        return (Interval(start, start + timedelta(days=rnd.randint(10, 25))),)

    practitioners = []
    for pid in draw(st.permutations(PRACTITIONER_IDS))[: draw(st.integers(1, 5))]:
        pause = 5 * rnd.randint(11 * 12, 15 * 12)
        practitioners.append(
            make_practitioner(
                practitioner_id=pid,
                treatment_ids=frozenset({TREATMENT_ID} if rnd.random() < 0.9 else {99}),
                hours=weekly(draw(st.sampled_from(["day", "day", "split", "overnight"]))),
                breaks=(
                    tuple(LocalPeriod(d, at(pause), at(pause + 45)) for d in range(7))
                    if rnd.random() < 0.5
                    else ()
                ),
                exceptions=tuple(exception() for _ in range(rnd.randint(0, 3))),
                time_off=tuple(span(6 * 24 * 60) for _ in range(rnd.randint(0, 2)))
                + absence(),
            )
        )
    rooms = [
        make_room(
            room_id=rid,
            treatment_ids=frozenset({TREATMENT_ID} if rnd.random() < 0.85 else {99}),
            closures=tuple(span(3 * 24 * 60) for _ in range(rnd.randint(0, 1))),
        )
        for rid in draw(st.permutations(ROOM_IDS))[: draw(st.sampled_from(ROOM_COUNTS))]
    ]
    low, target, high = sorted(draw(st.integers(0, 12)) for _ in range(3))
    bounds = [None if rnd.random() < 0.2 else bound for bound in (low, target, high)]
    treatment = make_treatment(
        duration_minutes=draw(st.sampled_from([15, 30, 45, 60, 90])),
        buffer_before_minutes=draw(st.sampled_from([0, 0, 5, 10])),
        buffer_after_minutes=draw(st.sampled_from([0, 0, 10, 15])),
        needs_room=draw(st.booleans()),
        protocol=make_series_protocol(
            sessions=draw(st.integers(1, 6)),
            interval_min_days=bounds[0],
            interval_target_days=bounds[1],
            interval_max_days=bounds[2],
            aftercare_hours=draw(st.sampled_from([0, 24, 72])),
            prep=(make_prep(lead_hours=draw(st.sampled_from([0, 48, 200]))),),
        ),
    )
    booked = []
    for _ in range(draw(st.integers(0, 150))):
        start = moment()
        booked.append(
            make_booked(
                start=start,
                end=start + timedelta(minutes=5 * rnd.randint(3, 96)),
                practitioner_id=rnd.choice(PRACTITIONER_IDS),
                room_id=rnd.choice((None,) + ROOM_IDS),
                patient_id=rnd.choice([PATIENT_ID, 7, 8]),
                buffer_before_minutes=rnd.choice([0, 5]),
                buffer_after_minutes=rnd.choice([0, 15]),
            )
        )
    policy = make_policy(
        slot_step_minutes=draw(st.sampled_from([5, 10, 15, 30])),
        min_notice_hours=draw(st.sampled_from([0, 24, 48])),
        horizon_days=draw(st.sampled_from([180, 180, 180, 40, 12])),
        closures=tuple(span(2 * 24 * 60) for _ in range(rnd.randint(0, 1))),
    )
    now = local(base.year, base.month, base.day, 8) + timedelta(hours=rnd.randint(-240, 96))
    where = draw(st.sampled_from(["working", "working", "booked", "anywhere"]))
    if where == "booked" and booked:
        # Right on someone's appointment: session 0 cannot go where it was asked.
        first_start = rnd.choice(booked).start
    elif where == "working":
        # Inside someone's weekly hours on one of the early days, mostly on the grid.
        period = rnd.choice(rnd.choice(practitioners).hours)
        day = rnd.choice([d for d in days[:28] if d.weekday() == period.weekday])
        minute = period.start.hour * 60 + period.start.minute + 5 * rnd.randint(0, 36)
        first_start = local_to_utc(day, at(minute), TZ)
    else:
        first_start = moment(7, 19)
    asked = draw(st.sampled_from(["nobody", "nobody", "someone", "stranger"]))
    return dict(
        treatment=treatment,
        first_start=first_start,
        practitioners=practitioners,
        rooms=rooms,
        booked=booked,
        policy=policy,
        now=now,
        practitioner_id={"nobody": None, "stranger": 6}.get(
            asked, rnd.choice(practitioners).practitioner_id
        ),
        patient_id=draw(st.sampled_from([None, PATIENT_ID])),
        avoid_dates=tuple(rnd.choice(days) for _ in range(draw(st.integers(0, 3)))),
        avoid_days_before=draw(st.sampled_from([None, 0, 1, 3])),
    )


def plan_with(planner, c) -> SeriesPlan:
    """One planner on one clinic."""
    return planner(
        c["treatment"],
        c["first_start"],
        list(c["practitioners"]),
        list(c["rooms"]),
        list(c["booked"]),
        c["policy"],
        c["now"],
        practitioner_id=c["practitioner_id"],
        patient_id=c["patient_id"],
        avoid_dates=c["avoid_dates"],
        avoid_days_before=c["avoid_days_before"],
    )


@settings(PROPERTY_SETTINGS, max_examples=200)
@given(clinics())
def test_the_planner_gives_exactly_the_reference_plan(c):
    expected = plan_with(plan_series, c)
    got = plan_with(current.plan_series, c)
    assert got == expected
    # Equal datetimes may still differ in their tzinfo; the answers must not.
    assert [(s.start.tzinfo, s.end.tzinfo) for s in got.sessions] == [
        (s.start.tzinfo, s.end.tzinfo) for s in expected.sessions
    ]


@PROPERTY_SETTINGS
@given(clinics(), st.integers(0, 20), st.integers(0, 20), st.booleans())
def test_free_slots_are_exactly_the_reference_ones(c, skip, length, respect_prep):
    first_day = local_date(c["first_start"], TZ) - timedelta(days=skip // 2)
    args = (
        c["treatment"],
        c["practitioners"],
        c["rooms"],
        c["booked"],
        c["policy"],
        first_day,
        first_day + timedelta(days=length),
        c["now"],
    )
    options = dict(patient_id=c["patient_id"], respect_prep=respect_prep)
    assert current_availability.free_slots(*args, **options) == free_slots(*args, **options)


def plain_clinic(**changes):
    """Two practitioners working every day 9-18, two rooms, nothing booked; a 4-session series."""
    c = dict(
        treatment=make_treatment(protocol=make_series_protocol()),
        first_start=local(2026, 3, 10, 10),
        practitioners=[make_practitioner(practitioner_id=2), make_practitioner(practitioner_id=1)],
        rooms=[make_room(room_id=2), make_room(room_id=1)],
        booked=[],
        policy=make_policy(),
        now=local(2026, 3, 2, 8),
        practitioner_id=None,
        patient_id=PATIENT_ID,
        avoid_dates=(),
        avoid_days_before=None,
    )
    c.update(changes)
    return c


def test_the_preferred_practitioner_away_for_a_whole_window_hands_over_to_the_others():
    away = Interval(local(2026, 3, 14, 0), local(2026, 3, 22, 0))
    people = [make_practitioner(practitioner_id=2), make_practitioner(time_off=(away,))]
    c = plain_clinic(practitioners=people, practitioner_id=1)
    plan = plan_with(current.plan_series, c)
    assert [s.practitioner_id for s in plan.sessions] == [1, 2, 1, 1]
    assert plan == plan_with(plan_series, c)


def test_a_window_beyond_the_horizon_offers_the_same_alternatives():
    c = plain_clinic(policy=make_policy(horizon_days=16))
    plan = plan_with(current.plan_series, c)
    assert [s.placed for s in plan.sessions] == [True, True, False, False]
    assert plan.sessions[2].alternatives
    assert plan == plan_with(plan_series, c)


def test_a_refused_first_session_offers_the_asked_practitioners_starts_first():
    busy = make_booked(
        start=local(2026, 3, 10, 10), end=local(2026, 3, 10, 11), practitioner_id=1, room_id=None
    )
    c = plain_clinic(booked=[busy], practitioner_id=1, avoid_dates=(date(2026, 3, 11),))
    plan = plan_with(current.plan_series, c)
    first = plan.sessions[0]
    assert not first.placed and {s.practitioner_id for s in first.alternatives} == {1}
    assert plan == plan_with(plan_series, c)


@settings(PROPERTY_SETTINGS, max_examples=100)
@given(clinics(), st.integers(0, 2**32 - 1))
def test_check_booking_answers_the_same_reading_only_nearby_appointments(c, seed):
    """``check_booking`` hands each session's checks only the appointments within reach;
    with an unbounded reach (every appointment) the problems must be exactly the same."""
    from unittest.mock import patch

    from booking.scheduling import ProposedSession, check_booking
    from booking.scheduling import checks as checks_module

    rnd = random.Random(seed)
    booked = list(c["booked"])
    # Sessions on top of booked appointments (clashes), next to them (buffers, aftercare)
    # and from the plan itself.
    starts = [a.start + timedelta(minutes=rnd.choice([-90, -30, -5, 0, 5, 30, 24 * 60, 48 * 60]))
              for a in rnd.sample(booked, min(len(booked), 4))]
    plan = plan_with(current.plan_series, c)
    starts += [s.start for s in plan.sessions[:3]]
    people = list(c["practitioners"])
    rooms = list(c["rooms"])
    sessions = [
        ProposedSession(start, rnd.choice(people).practitioner_id,
                        rnd.choice([None, *(r.room_id for r in rooms)]), n)
        for n, start in enumerate(sorted(starts))
    ]
    arguments = dict(
        patient_id=c["patient_id"] if c["patient_id"] is not None else PATIENT_ID,
        practitioners={p.practitioner_id: p for p in people}, rooms={r.room_id: r for r in rooms},
        booked=booked, policy=c["policy"], now=c["now"],
    )
    got = check_booking(c["treatment"], sessions, **arguments)
    everything = (timedelta(days=3650), timedelta(days=3650))
    with patch.object(checks_module, "_reach", lambda treatment, pool: everything):
        expected = check_booking(c["treatment"], sessions, **arguments)
    assert got == expected
