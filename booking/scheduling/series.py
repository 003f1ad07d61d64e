"""Planning a course of sessions: where each session of a protocol's series would go.

Session 0 is where the caller asked, judged by the booking check itself. Each following session
aims at the previous one's date + the target interval, at session 0's wall-clock time, and
otherwise takes the free start the rule book allows that is closest in days, then in time of
day, preferring session 0's practitioner. When a choice leaves no room for a later session the
planner goes back and tries the next best choice, so whenever a valid series exists in the
protocol's windows it finds one. Nothing is booked; when no series fits, the plan says which
session could not be placed, why, and what else is free.

Candidates come from the free-time search (``availability.FreeStarts``), which applies every
rule of the rule book, including the spacing to the previous session, aftercare and the
patient's own diary; they are compared as integer start ticks and only the chosen ones become
datetimes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from heapq import nsmallest
from math import ceil
from operator import attrgetter, sub

from .availability import FreeStarts, Start, as_slots
from .clock import local_date, local_day_bounds, local_to_utc, to_local, zone
from .conflict_checks import as_booked
from .intervals import merge_pairs, subtract_pairs
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
from .text import N_, Text
from .rulebook import (
    EARLIEST,
    LATEST,
    Reach,
    consultations_allowed,
    reach,
    spacing_allowed,
)
from .series_start import place_first
from .start_sets import shape_of
from .timeline import HOUR, MINUTE, SpanList, from_ticks, to_ticks

ALTERNATIVES = 5
# Free-time searches one plan may run while going back over earlier choices; a series that
# needs more is reported as not fitting (with the session where the first attempt stopped).
SEARCH_BUDGET = 400
_SECOND = 1_000_000  # ticks

_START = attrgetter("start")
_END = attrgetter("end")
_BEFORE = attrgetter("buffer_before_minutes")
_AFTER = attrgetter("buffer_after_minutes")


class _Diary:
    """The booked appointments and the sessions held so far, found by time.

    Kept sorted by start, with bounds on how far before and after its start an appointment
    (its buffers included) can reach, so ``near`` hands each search the few appointments around
    its window after two binary searches instead of the whole diary. The patient's own
    appointments are always handed over: their aftercare can reach weeks. It may hand over a
    few more than needed; the searches and checks still test each one exactly.
    """

    def __init__(self, booked: Iterable[BookedAppointment], patient_id: int | None) -> None:
        """Sort ``booked`` and measure its reach."""
        self._patient_id = patient_id
        booked = list(booked)
        self._items = sorted(
            (a for a in booked if patient_id is None or a.patient_id != patient_id), key=_START
        )
        self._mine = [a for a in booked if patient_id is not None and a.patient_id == patient_id]
        self._held: list[BookedAppointment] = []
        self._starts = list(map(_START, self._items))
        self._before = self._after = timedelta(0)
        self._widen(self._items)

    def add(self, appointment: BookedAppointment) -> None:
        """One more busy appointment of the patient (a session just placed)."""
        self._held.append(appointment)

    def remove(self, appointment: BookedAppointment) -> None:
        """Take back a session placed by ``add`` (the planner goes back on a choice)."""
        self._held.remove(appointment)

    def near(self, low: datetime, high: datetime) -> list[BookedAppointment]:
        """Every appointment whose span, buffers included, meets ``[low, high]``, and every one
        of the patient's; maybe more."""
        first = bisect_left(self._starts, low - self._after)
        last = bisect_right(self._starts, high + self._before)
        return self._items[first:last] + self._mine + self._held

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
    kept_clear: tuple[tuple[int, int], ...]
    wall_time: time
    clock: _WallClock = field(compare=False)

    @property
    def duration(self) -> int:
        """The treatment's length in ticks."""
        return self.treatment.duration_minutes * MINUTE

    def search(
        self, diary: _Diary, first: date, last: date, within: list[tuple[int, int]] | None = None
    ) -> FreeStarts:
        """The free-start search over local days ``first..last`` (off the kept-clear days)."""
        low, high = FreeStarts.reach(first, last, self.policy.timezone)
        if self.kept_clear:
            within = subtract_pairs(within or [(EARLIEST, LATEST)], self.kept_clear)
        return FreeStarts(
            self.treatment,
            self.rooms,
            diary.near(from_ticks(low), from_ticks(high)),
            self.policy,
            first,
            last,
            self.now,
            patient_id=self.patient_id,
            within=within,
        )

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
    consultation_starts: Sequence[datetime] = (),
    contraindicated_ids: frozenset[int] = frozenset(),
    intake_missing: bool = False,
    later_practitioner_id: int | None = None,
) -> SeriesPlan:
    """Place ``treatment.protocol.sessions`` sessions starting at ``first_start``.

    Sessions after the first prefer ``later_practitioner_id`` (default: the first session's
    practitioner): the rest of a series re-planned from a session the patient moved to another
    practitioner stays with the series' own where it can.

    Deterministic: every choice is made by a total order over the candidates. The patient's
    record (consultations, contraindications, questionnaire) is judged on session 0 as a
    booking would judge it.
    """
    tz = policy.timezone
    protocol = treatment.protocol
    blocked_days = _blocked_days(avoid_dates, avoid_days_before, protocol)
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
        blocked_days=blocked_days,
        kept_clear=kept_clear_starts(treatment, avoid_dates, tz, avoid_days_before),
        wall_time=to_local(first_start, tz).time().replace(tzinfo=None, fold=0),
        clock=_WallClock(tz),
    )
    diary = _Diary(booked, patient_id)
    first_end = first_start + timedelta(minutes=treatment.duration_minutes)
    first, problems = place_first(
        treatment,
        first_start,
        practitioners,
        request.qualified,
        rooms,
        diary.near(first_start, first_end),
        policy,
        now,
        practitioner_id=practitioner_id,
        patient_id=patient_id,
        consultation_starts=consultation_starts,
        contraindicated_ids=contraindicated_ids,
        intake_missing=intake_missing,
    )
    day = local_date(first_start, tz)
    if first.placed and breaks_keep_clear(to_ticks(first_start), request.kept_clear):
        problems.append(
            Problem(
                AFTERCARE_CONFLICT,
                N_("Session 1 on %(day)s is too close to a date you asked to keep clear; choose an earlier or "
                   "later first date.", day=day_label(day)),
                0,
            )
        )
    if not first.placed:
        within = consultations_allowed(protocol, consultation_starts, tz)
        search = request.search(diary, day - timedelta(days=7), day + timedelta(days=14), within)
        first = _with_alternatives(request, first, search, first_start, practitioner_id)
    count = max(1, protocol.sessions)
    if first.placed and count > 1:
        held = _hold(request, diary, first)
        rest = _Backtracking(request, diary, later_practitioner_id or first.practitioner_id).extend(first, 1, count)
        if rest is not None:
            return SeriesPlan((first, *rest), tuple(problems))
        if held is not None:
            diary.remove(held)
    sessions = [first]
    preferred = later_practitioner_id or (first.practitioner_id if first.placed else practitioner_id)
    for index in range(1, count):
        _hold(request, diary, sessions[-1])
        session, problem, day = _place_next(request, diary, index, day, preferred)
        sessions.append(session)
        if problem is not None:
            problems.append(problem)
    return SeriesPlan(tuple(sessions), tuple(problems))


class _Backtracking:
    """Depth-first placement of sessions ``1..count-1``, best candidate first.

    The first path tried is the greedy one (each session at its best free start), so a
    series that fits that way costs one search per session. When a session finds no free
    start, the previous session's next best candidate is tried. Dead ends are remembered:
    by the previous session's date when its own held time cannot reach the next window (then
    only its date matters), else by its exact start and practitioner.
    """

    def __init__(self, request: _Request, diary: _Diary, preferred: int | None) -> None:
        """Start with the whole search budget and no dead ends; ``preferred`` goes first."""
        self.request = request
        self.preferred = preferred
        self.diary = diary
        self.budget = SEARCH_BUDGET
        self.dead: set[tuple] = set()

    def extend(self, previous: PlannedSession, index: int, count: int) -> list[PlannedSession] | None:
        """Sessions ``index..count-1`` after ``previous``, or None when none fit (or the budget
        ran out)."""
        if index == count:
            return []
        request = self.request
        previous_day = request.clock.at(to_ticks(previous.start))[0]
        first_day, last_day, window = _window(request, previous.start)
        key = self._key(index, previous, previous_day, window)
        if key in self.dead or self.budget <= 0:
            return None
        self.budget -= 1
        search = request.search(self.diary, first_day, last_day, [window])
        target, _, _ = spacing(request.treatment.protocol)
        wanted = request.wall_time.hour * 60 + request.wall_time.minute
        for people in request.split(self.preferred):
            found = search.starts(people)
            for tick, practitioner_id, room_id in _best_first(request, found, previous_day, target, wanted):
                start = from_ticks(tick)
                end = start + timedelta(microseconds=request.duration)
                placed = PlannedSession(index, start, end, practitioner_id, room_id, True)
                held = _hold(request, self.diary, placed)
                rest = self.extend(placed, index + 1, count)
                if held is not None:
                    self.diary.remove(held)
                if rest is not None:
                    return [placed, *rest]
                if self.budget <= 0:
                    return None
        self.dead.add(key)
        return None

    def _key(self, index: int, previous: PlannedSession, previous_day: date, window: tuple[int, int]) -> tuple:
        """What the rest of the plan depends on, for remembering a dead end."""
        treatment = self.request.treatment
        reach_end = to_ticks(previous.end) + max(
            treatment.buffer_after_minutes * MINUTE, treatment.protocol.aftercare_hours * HOUR
        )
        if reach_end <= window[0]:
            return (index, previous_day)
        return (index, to_ticks(previous.start), previous.practitioner_id)


def _best_first(
    request: _Request, found: Sequence[Start], previous_day: date, target: int, wanted: int
) -> Iterator[Start]:
    """``found`` closest in days to ``target`` days after ``previous_day`` first (the earlier
    day on a tie), then closest to ``wanted`` minutes of the day.

    ``found`` is in (start, practitioner) order and the sorts are stable, so equally close
    starts keep that order. Days are taken one at a time, so a plan whose best day has a
    free start never looks at the starts of any other day.
    """
    if not found:
        return
    tz, at = request.policy.timezone, request.clock.at
    ticks = [start[0] for start in found]
    first_day, last_day = at(ticks[0])[0], at(ticks[-1])[0]
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    days.sort(key=lambda day: abs((day - previous_day).days - target))
    for day in days:
        low = bisect_left(ticks, to_ticks(local_day_bounds(day, tz).start))
        high = bisect_left(ticks, to_ticks(local_day_bounds(day, tz).end), low)
        yield from sorted(found[low:high], key=lambda start: abs(at(start[0])[1] - wanted))


def _window(request: _Request, previous: datetime) -> tuple[date, date, tuple[int, int]]:
    """The local days to search after a session at ``previous`` and the starts the spacing
    rule allows there (``rulebook.spacing_allowed``, with a protocol's missing bounds filled
    in as ``spacing`` does)."""
    tz = request.policy.timezone
    _, low, high = spacing(request.treatment.protocol)
    previous_day = local_date(previous, tz)
    window = spacing_allowed(_bounded(request.treatment.protocol), tz, previous=previous)
    return previous_day + timedelta(days=low), previous_day + timedelta(days=high), window


def _bounded(protocol: Protocol) -> Protocol:
    """The protocol with both interval bounds set (see ``spacing``)."""
    _, low, high = spacing(protocol)
    return replace(protocol, interval_min_days=low, interval_max_days=high)


def _hold(request: _Request, diary: _Diary, session: PlannedSession) -> BookedAppointment | None:
    """Make a placed session busy time (practitioner, room, patient, aftercare) for later ones."""
    if not session.placed or session.practitioner_id is None:
        return None
    held = as_booked(
        request.treatment,
        session.start,
        session.practitioner_id,
        session.room_id,
        request.patient_id,
        # Negative ids are never stored appointments.
        appointment_id=-(session.index + 1),
    )
    diary.add(held)
    return held


def _place_next(
    request: _Request,
    diary: _Diary,
    index: int,
    previous_day: date,
    preferred: int | None,
) -> tuple[PlannedSession, Problem | None, date]:
    """Session ``index`` after one on ``previous_day``, greedily: (session, problem, its date).

    Used once no whole series fits: it places what it can and says where and why it stops.
    """
    tz = request.policy.timezone
    target, _, _ = spacing(request.treatment.protocol)
    target_day = previous_day + timedelta(days=target)
    first_day, last_day, window = _window(request, local_day_bounds(previous_day, tz).start)
    wanted = request.wall_time.hour * 60 + request.wall_time.minute
    search = request.search(diary, first_day, last_day, [window])
    for people in request.split(preferred):
        pick = next(_best_first(request, search.starts(people), previous_day, target, wanted), None)
        if pick is not None:
            tick, practitioner_id, room_id = pick
            start = from_ticks(tick)
            end = start + timedelta(microseconds=request.duration)
            placed = PlannedSession(index, start, end, practitioner_id, room_id, True)
            return placed, None, request.clock.at(tick)[0]

    start = local_to_utc(target_day, request.wall_time, tz)
    duration = timedelta(minutes=request.treatment.duration_minutes)
    search = request.search(diary, first_day - timedelta(days=7), last_day + timedelta(days=14))
    nearby = search.starts(request.qualified)
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
    if missing.alternatives:
        message = N_("Session %(number)d could not be placed between %(first)s and %(last)s: %(why)s; choose "
                     "one of the alternatives.", number=index + 1, first=day_label(first_day),
                     last=day_label(last_day), why=why)
    else:
        message = N_("Session %(number)d could not be placed between %(first)s and %(last)s: %(why)s; contact "
                     "the clinic.", number=index + 1, first=day_label(first_day), last=day_label(last_day), why=why)
    return missing, Problem(code, message, index), target_day


def plan_reach(treatment: TreatmentSpec, first_start: datetime, treatments: Sequence[TreatmentSpec]) -> tuple[datetime, datetime]:
    """The span of time a plan from ``first_start`` can look at, for loading what it needs.

    Every session's window at the longest spacing, the alternatives searched around the first
    and the last (a week before, two weeks after), widened by how far the rules reach.
    """
    target, _, high = spacing(treatment.protocol)
    sessions = max(1, treatment.protocol.sessions)
    far: Reach = reach(treatment, treatments)
    low = first_start - timedelta(days=8) - max(far.resources_before, far.patient_before)
    high_end = first_start + timedelta(days=high * (sessions - 1) + 16)
    return low, high_end + max(far.resources_after, far.patient_after)
def _why_nothing_fits(request: _Request, first_day: date, last_day: date) -> tuple[str, Text]:
    """The code and wording for a window with no usable free slot."""
    policy, tz = request.policy, request.policy.timezone
    last_bookable = local_date(request.now, tz) + timedelta(days=policy.horizon_days)
    if first_day > last_bookable:
        return BEYOND_HORIZON, N_("bookings open only up to %(day)s", day=day_label(last_bookable))
    window_end = local_day_bounds(last_day, tz).end
    if window_end <= request.now:
        return IN_PAST, N_("those dates have already passed")
    if window_end <= request.now + timedelta(hours=policy.min_notice_hours):
        return MIN_NOTICE, N_("bookings need %(hours)s' notice", hours=hours_label(policy.min_notice_hours))
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    anyone_works = any(
        shape_of(p).day(day, tz, policy.closures)[1]
        for p in request.qualified
        for day in days
    )
    if not anyone_works:
        return OUTSIDE_HOURS, N_("no practitioner who gives this treatment works on those days")
    low, high = to_ticks(local_day_bounds(first_day, tz).start), to_ticks(local_day_bounds(last_day, tz).end)
    if any(start < high and low < end for start, end in request.kept_clear):
        return SLOT_TAKEN, N_("there is no free time outside the dates you asked to keep clear")
    return SLOT_TAKEN, N_("there is no free time with a practitioner who gives this treatment")


def _with_alternatives(
    request: _Request,
    session: PlannedSession,
    search: FreeStarts,
    target: datetime,
    practitioner_id: int | None,
) -> PlannedSession:
    """``session`` with the free starts nearest ``target``, the asked practitioner's first."""
    own, rest = request.split(practitioner_id)
    nearby = search.starts(own) or search.starts(rest)
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


def kept_clear_starts(
    treatment: TreatmentSpec, avoid_dates: Sequence[date], tz: str, days_before: int | None = None
) -> tuple[tuple[int, int], ...]:
    """The start ticks at which a session would spoil a date to keep clear, merged and sorted.

    A start is kept off when the session's local day is an avoid date or one of the days
    before it (``_blocked_days``), when the session or its aftercare (end + aftercare hours)
    reaches into an avoid date, or when one of its prep steps falls due (start - lead hours)
    on an avoid date in the clinic's time (as ``prep.prep_due`` dates it). Spans are
    half-open ``[low, high)``; worked out once per plan from the protocol and the dates.
    """
    protocol = treatment.protocol
    duration = treatment.duration_minutes * MINUTE
    aftercare = protocol.aftercare_hours * HOUR
    spans: list[tuple[int, int]] = []
    for day in _blocked_days(avoid_dates, days_before, protocol):
        bounds = local_day_bounds(day, tz)
        spans.append((to_ticks(bounds.start), to_ticks(bounds.end)))
    for day in set(avoid_dates):
        bounds = local_day_bounds(day, tz)
        low, high = to_ticks(bounds.start), to_ticks(bounds.end)
        # The session and its aftercare [start, end + aftercare) meet [low, high).
        spans.append((low - duration - aftercare + 1, high))
        for step in protocol.prep:
            lead = step.lead_hours * HOUR
            spans.append((low + lead, high + lead))  # due = start - lead inside the day
    return tuple(merge_pairs(spans))


def breaks_keep_clear(tick: int, kept_clear: Sequence[tuple[int, int]]) -> bool:
    """Whether a session starting at ``tick`` falls in one of the ``kept_clear_starts`` spans."""
    return SpanList(kept_clear).covers(tick)


def first_keep_clear_break(
    treatment: TreatmentSpec,
    starts: Sequence[datetime],
    avoid_dates: Sequence[date],
    tz: str,
    days_before: int | None = None,
) -> int | None:
    """The index of the first of ``starts`` that spoils a date to keep clear, or None."""
    spans = SpanList(kept_clear_starts(treatment, avoid_dates, tz, days_before))
    return next((i for i, s in enumerate(starts) if spans.covers(to_ticks(s))), None)
