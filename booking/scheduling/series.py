"""Planning a course of sessions: where each session of a protocol's series would go.

Session 0 is where the caller asked (checked with the same rules a booking is). Each following
session aims at the previous one's date + the target interval, at session 0's wall-clock time,
and otherwise takes the free slot inside ``[min, max]`` days that is closest in days, then in
time of day, preferring session 0's practitioner. Nothing is booked; the plan says which
session could not be placed, why, and what else is free.

The candidates are compared as integer start ticks (``availability.FreeStarts``) and only the
chosen ones become datetimes; the preferred practitioner's diary is searched before anyone
else's, and each search is handed only the appointments near its window.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from heapq import nsmallest
from math import ceil
from operator import attrgetter, sub

from .availability import FreeStarts, Start, as_slots
from .clock import (
    local_date,
    local_day_bounds,
    local_to_utc,
    to_local,
    working_intervals,
    zone,
)
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
from .timeline import MINUTE, from_ticks, to_ticks

ALTERNATIVES = 5
_SECOND = 1_000_000  # ticks

_START = attrgetter("start")
_END = attrgetter("end")
_BEFORE = attrgetter("buffer_before_minutes")
_AFTER = attrgetter("buffer_after_minutes")


class _Diary:
    """The booked appointments and the sessions held so far, found by time.

    Kept sorted by start, with bounds on how far before and after its start an appointment
    (its buffers included) can reach, so ``near`` hands each search the few appointments around
    its window after two binary searches instead of the whole diary. It may hand over a few
    more than needed; the searches and checks still test each one exactly, and none of them
    depends on the order of the appointments.
    """

    def __init__(self, booked: Iterable[BookedAppointment]) -> None:
        """Sort ``booked`` and measure its reach."""
        self._items = sorted(booked, key=_START)
        self._starts = list(map(_START, self._items))
        self._before = self._after = timedelta(0)
        self._widen(self._items)

    def add(self, appointment: BookedAppointment) -> None:
        """One more busy appointment (a session just placed)."""
        at = bisect_right(self._starts, appointment.start)
        self._items.insert(at, appointment)
        self._starts.insert(at, appointment.start)
        self._widen((appointment,))

    def near(self, low: datetime, high: datetime) -> list[BookedAppointment]:
        """Every appointment whose span, buffers included, meets ``[low, high]``; maybe more."""
        first = bisect_left(self._starts, low - self._after)
        last = bisect_right(self._starts, high + self._before)
        return self._items[first:last]

    def _widen(self, added: Sequence[BookedAppointment]) -> None:
        """Keep the bounds covering ``added``: start, end, buffered start and buffered end.

        Taken over the extremes of lengths and buffers rather than appointment by appointment
        (so a little wider than needed), with ``map`` so that a long diary costs little.
        """
        if not added:
            return
        lengths = list(map(sub, map(_END, added), map(_START, added)))
        longest, shortest = max(lengths), min(lengths)
        before = timedelta(minutes=max(map(_BEFORE, added)))
        least_before = timedelta(minutes=min(map(_BEFORE, added)))
        after = timedelta(minutes=max(map(_AFTER, added)))
        least_after = timedelta(minutes=min(map(_AFTER, added)))
        # How far the end and the buffered start and end can lie before and after the start.
        self._before = max(self._before, before, -shortest, -shortest - least_after)
        self._after = max(self._after, longest, longest + after, -least_before)


class _WallClock:
    """The clinic's local date and minutes after midnight of start ticks, each worked out once.

    Practitioners share the slot grid and windows of consecutive sessions overlap, so a plan
    meets the same ticks many times.
    """

    __slots__ = ("_zone", "_seen")

    def __init__(self, tz: str) -> None:
        """An empty cache for zone ``tz``."""
        self._zone = zone(tz)
        self._seen: dict[int, tuple[date, int]] = {}

    def at(self, tick: int) -> tuple[date, int]:
        """(local date, minutes after local midnight) at ``tick``."""
        seen = self._seen.get(tick)
        if seen is None:
            # The whole second holds the same date and minute; one call instead of
            # from_ticks + astimezone, and the same conversion (the zone's ``fromutc``).
            local = datetime.fromtimestamp(tick // _SECOND, self._zone)
            seen = self._seen[tick] = (local.date(), local.hour * 60 + local.minute)
        return seen


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
    clock: _WallClock = field(compare=False)

    @property
    def duration(self) -> int:
        """The treatment's length in ticks."""
        return self.treatment.duration_minutes * MINUTE

    def search(
        self, diary: _Diary, first: date, last: date, *, respect_prep: bool = False
    ) -> FreeStarts:
        """The free-start search over local days ``first..last``; prep binds only session 0."""
        low, high = FreeStarts.reach(first, last, self.policy.timezone)
        return FreeStarts(
            self.treatment,
            self.rooms,
            diary.near(from_ticks(low), from_ticks(high)),
            self.policy,
            first,
            last,
            self.now,
            patient_id=self.patient_id,
            respect_prep=respect_prep,
        )

    def free(self, search: FreeStarts, people: Iterable[PractitionerSchedule]) -> list[Start]:
        """Free starts of ``people`` off the blocked days, by (start, practitioner)."""
        found = search.starts(people)
        if not self.blocked_days:
            return found
        at, blocked = self.clock.at, self.blocked_days
        return [s for s in found if at(s[0])[0] not in blocked]

    def split(
        self, practitioner_id: int | None
    ) -> tuple[list[PractitionerSchedule], list[PractitionerSchedule]]:
        """The qualified practitioners: (the one with ``practitioner_id``, everyone else)."""
        own = [p for p in self.qualified if p.practitioner_id == practitioner_id]
        rest = [p for p in self.qualified if p.practitioner_id != practitioner_id]
        return own, rest


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

    Deterministic: every choice is made by a total order over the candidates. Candidates are
    compared as start ticks; only the chosen ones become datetimes.
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
        clock=_WallClock(tz),
    )
    diary = _Diary(booked)
    first_end = first_start + timedelta(minutes=treatment.duration_minutes)
    before = timedelta(minutes=treatment.buffer_before_minutes)
    after = timedelta(minutes=treatment.buffer_after_minutes)
    first, problems = place_first(
        treatment,
        first_start,
        practitioners,
        request.qualified,
        rooms,
        # Session 0 is judged only against what overlaps it, buffers included.
        diary.near(min(first_start, first_start - before), max(first_end, first_end + after)),
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
        search = request.search(
            diary, day - timedelta(days=7), day + timedelta(days=14), respect_prep=True
        )
        first = _with_alternatives(request, first, search, first_start, practitioner_id)
    sessions = [first]
    preferred = first.practitioner_id if first.placed else practitioner_id
    for index in range(1, max(1, protocol.sessions)):
        _hold(request, diary, sessions[-1])
        session, problem, day = _place_next(request, diary, index, day, preferred)
        sessions.append(session)
        if problem is not None:
            problems.append(problem)
    return SeriesPlan(tuple(sessions), tuple(problems))


def _hold(request: _Request, diary: _Diary, session: PlannedSession) -> None:
    """Make a placed session busy time (practitioner, room, patient) for the ones after it."""
    if not session.placed or session.practitioner_id is None:
        return
    diary.add(
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
    diary: _Diary,
    index: int,
    previous_day: date,
    preferred: int | None,
) -> tuple[PlannedSession, Problem | None, date]:
    """Session ``index`` after one on ``previous_day``: (session, problem or None, its date).

    The preferred practitioner's free starts are searched first and everyone else's only when
    the preferred has none in the window: the same pick as taking the closest of the
    preferred's starts if any, else of all, at a fraction of the search.
    """
    tz = request.policy.timezone
    target, low, high = spacing(request.treatment.protocol)
    target_day = previous_day + timedelta(days=target)
    first_day, last_day = previous_day + timedelta(days=low), previous_day + timedelta(days=high)
    wanted = request.wall_time.hour * 60 + request.wall_time.minute
    # Slots of a period running past midnight may start on the day after the window.
    window = (
        to_ticks(local_day_bounds(first_day, tz).start),
        to_ticks(local_day_bounds(last_day, tz).end),
    )
    search = request.search(diary, first_day, last_day)
    pick = None
    for people in request.split(preferred):
        pick = _closest(request, request.free(search, people), window, previous_day, target, wanted)
        if pick is not None:
            break
    if pick is not None:
        tick, practitioner_id, room_id = pick
        start = from_ticks(tick)
        end = start + timedelta(microseconds=request.duration)
        placed = PlannedSession(index, start, end, practitioner_id, room_id, True)
        return placed, None, request.clock.at(tick)[0]

    start = local_to_utc(target_day, request.wall_time, tz)
    duration = timedelta(minutes=request.treatment.duration_minutes)
    search = request.search(diary, first_day - timedelta(days=7), last_day + timedelta(days=14))
    nearby = request.free(search, request.qualified)
    missing = PlannedSession(
        index,
        start,
        start + duration,
        preferred,
        None,
        False,
        _nearest(nearby, to_ticks(start), request.duration),
    )
    code, why = _why_nothing_fits(request, first_day, last_day)
    advice = "choose one of the alternatives" if missing.alternatives else "contact the clinic"
    message = (
        f"Session {index + 1} could not be placed between {day_label(first_day)} and "
        f"{day_label(last_day)}: {why}; {advice}."
    )
    return missing, Problem(code, message, index), target_day


def _closest(
    request: _Request,
    found: Sequence[Start],
    window: tuple[int, int],
    previous_day: date,
    target: int,
    wanted: int,
) -> Start | None:
    """The start in ``window`` closest in days to ``target``, then to ``wanted`` minutes.

    ``found`` is in (start, practitioner) order, so keeping the first of equally close starts
    breaks ties by start and then practitioner.
    """
    low, high = window
    at = request.clock.at
    best: Start | None = None
    best_key = (0, 0)
    for start in found:
        tick = start[0]
        if not low <= tick < high:
            continue
        day, minutes = at(tick)
        key = (abs((day - previous_day).days - target), abs(minutes - wanted))
        if best is None or key < best_key:
            best, best_key = start, key
    return best


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
    request: _Request,
    session: PlannedSession,
    search: FreeStarts,
    target: datetime,
    practitioner_id: int | None,
) -> PlannedSession:
    """``session`` with the free starts nearest ``target``, the asked practitioner's first."""
    own, rest = request.split(practitioner_id)
    nearby = request.free(search, own) or request.free(search, rest)
    return PlannedSession(
        session.index,
        session.start,
        session.end,
        session.practitioner_id,
        session.room_id,
        False,
        _nearest(nearby, to_ticks(target), request.duration),
    )


def _nearest(found: Iterable[Start], target: int, duration: int) -> tuple[Slot, ...]:
    """The ``ALTERNATIVES`` starts nearest tick ``target``, as slots in time order."""
    near = nsmallest(ALTERNATIVES, found, key=lambda s: (abs(s[0] - target), s[0], s[1]))
    near.sort(key=lambda s: (s[0], s[1]))
    return tuple(as_slots(near, duration))


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
