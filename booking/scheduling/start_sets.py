"""Sets of start times, as merged integer spans, for the availability search.

A new appointment starting at tick ``t`` is allowed or not; the starts that a booked
appointment, a closure or a working period allows or forbids always form one span. Working
with those spans instead of with individual slots is what keeps the search fast.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, time
from functools import lru_cache

from .clock import ONE_DAY, local_to_utc
from .intervals import merge_pairs, subtract_pairs
from .model import BookedAppointment, Interval, PractitionerSchedule, RoomSchedule, TreatmentSpec
from .rulebook import aftercare_blocks, closure_block, held_block, patient_block
from .timeline import MINUTE, SpanList, from_ticks, to_ticks

Span = tuple[int, int]


class BlockedStarts:
    """The starts of a new appointment that booked ones rule out, per resource and for the patient.

    Each booked appointment near the window gives its spans by the rule book's definitions:
    ``held_block`` for its practitioner and its room, ``patient_block`` and
    ``aftercare_blocks`` for the patient's own appointments.
    """

    def __init__(
        self,
        treatment: TreatmentSpec,
        booked: Iterable[BookedAppointment],
        low: int,
        high: int,
        patient_id: int | None,
    ) -> None:
        """Index the blocked starts of every booked appointment that can reach ``[low, high)``."""
        self.treatment = treatment
        self.patient_id = patient_id
        self.duration = treatment.duration_minutes * MINUTE
        self.low, self.high = low, high
        self._practitioner_spans: dict[int, list[Span]] = defaultdict(list)
        self._room_spans: dict[int, list[Span]] = defaultdict(list)
        self._mine: list[Span] = []
        self._index(booked)
        self._practitioners: dict[int, SpanList] = {}
        self._empty = SpanList(())
        self.patient = SpanList(self._mine)

    def _index(self, booked: Iterable[BookedAppointment]) -> None:
        """Add the spans of ``booked`` to the lists (not yet to the indexes)."""
        treatment, patient_id, duration = self.treatment, self.patient_id, self.duration
        low, high = self.low, self.high
        by_practitioner, by_room, mine = self._practitioner_spans, self._room_spans, self._mine
        low_moment, high_moment = from_ticks(low), from_ticks(high)
        for a in booked:
            if a.patient_id == patient_id and patient_id is not None:
                # The patient's own appointments reach as far as aftercare does.
                mine.append(patient_block(duration, a))
                mine.extend(span for span, _ in aftercare_blocks(treatment, a))
            elif a.end < low_moment or a.start > high_moment:
                continue  # far away: skip before paying for the conversion to ticks
            span = held_block(treatment, a)
            if span[1] <= low or span[0] >= high:
                continue
            by_practitioner[a.practitioner_id].append(span)
            if a.room_id is not None:
                by_room[a.room_id].append(span)

    def practitioner(self, practitioner_id: int) -> SpanList:
        """Blocked starts for one practitioner."""
        found = self._practitioners.get(practitioner_id)
        if found is None:
            spans = self._practitioner_spans.get(practitioner_id)
            found = self._practitioners[practitioner_id] = SpanList(spans) if spans else self._empty
        return found

    def room(self, room_id: int, closures: Iterable[Interval]) -> SpanList:
        """Blocked starts for one room: its bookings plus starts that would meet a closure."""
        spans = [closure_block(self.duration, c) for c in closures]
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


def overlay(starts: Sequence[Span], cover: Sequence[tuple[int, int, int]]) -> list:
    """Allowed starts cut by the room cover: ``(start, end, room_id)`` where both allow.

    Both lists are sorted and disjoint, so one two-pointer sweep does it.
    """
    pieces = []
    i = j = 0
    while i < len(starts) and j < len(cover):
        s1, e1 = starts[i]
        s2, e2, room_id = cover[j]
        low, high = max(s1, s2), min(e1, e2)
        if low < high:
            pieces.append((low, high, room_id))
        if e1 < e2:
            i += 1
        else:
            j += 1
    return pieces


def grid(anchor: int, step: int, low: int, high: int) -> range:
    """Ticks ``anchor + k * step`` inside ``[low, high)``."""
    first = anchor - ((anchor - low) // step) * step  # ceiling division, in integers
    return range(first, high, step)


class WeekShape:
    """A practitioner's weekly hours, breaks and exceptions, grouped for day-by-day lookups."""

    def __init__(self, schedule: PractitionerSchedule) -> None:
        """Group the schedule's periods by weekday and its exceptions by date."""
        self._hours: dict[int, list[tuple[time, time]]] = defaultdict(list)
        self._breaks: dict[int, list[tuple[time, time]]] = defaultdict(list)
        self._exceptions: dict[date, list[tuple[time, time]]] = defaultdict(list)
        for p in schedule.hours:
            self._hours[p.weekday].append((p.start, p.end))
        for b in schedule.breaks:
            self._breaks[b.weekday].append((b.start, b.end))
        for exc in schedule.exceptions:
            self._exceptions[exc.day].extend(exc.periods)
        # An end not after its start means the period runs into the next day.
        self.overnight = any(p.end <= p.start for p in schedule.hours) or any(
            end <= start for exc in schedule.exceptions for start, end in exc.periods
        )
        self._schedule = schedule
        self._days: dict[tuple, tuple[list[Span], list[Span]]] = {}
        self._away: dict[tuple, SpanList] = {}

    def day(self, day: date, tz: str, closures: tuple[Interval, ...]) -> tuple[list[Span], list[Span]]:
        """(periods, working time) on local ``day`` with the clinic's ``closures``; kept, as
        the same days are asked by every search until the rules change (see ``shape_of``)."""
        key = (day, tz, closures)
        found = self._days.get(key)
        if found is None:
            away = self._away.get(closures)
            if away is None:
                away = self._away[closures] = SpanList(
                    [(to_ticks(t.start), to_ticks(t.end)) for t in self._schedule.time_off]
                    + [(to_ticks(c.start), to_ticks(c.end)) for c in closures]
                )
            periods = self.periods(day, tz)
            found = (periods, self.working(day, tz, away, periods) if periods else [])
            if len(self._days) > 4096:  # a long-lived shape asked for many windows
                self._days.clear()
            self._days[key] = found
        return found

    def periods(self, day: date, tz: str) -> list[Span]:
        """Working periods on ``day`` as ticks, sorted; an exception replaces the week."""
        if day in self._exceptions:
            spans = self._exceptions[day]
        else:
            spans = self._hours.get(day.weekday(), [])
        ticks = sorted(period_ticks(day, s, e, tz) for s, e in spans)
        return [(s, e) for s, e in ticks if s < e]

    def breaks(self, day: date, tz: str) -> list[Span]:
        """Breaks on ``day`` as ticks."""
        return [period_ticks(day, s, e, tz) for s, e in self._breaks.get(day.weekday(), [])]

    def working(self, day: date, tz: str, away: SpanList, periods: list[Span] | None = None) -> list[Span]:
        """``outside_hours``: when the practitioner works on local ``day``, merged ticks.

        The day's periods (an exception replaces the week) minus that day's breaks, minus
        ``away`` (time off and clinic closures, see ``day``). ``periods`` may be passed
        when the caller already has them.
        """
        if periods is None:
            periods = self.periods(day, tz)
        if not periods:
            return []
        low, high = periods[0][0], max(e for _, e in periods)
        cuts = merge_pairs(self.breaks(day, tz) + away.within(low, high))
        return subtract_pairs(merge_pairs(periods), cuts)


@lru_cache(maxsize=256)
def shape_of(schedule: PractitionerSchedule) -> WeekShape:
    """The ``WeekShape`` of a schedule, one per distinct schedule in this process.

    Schedules are frozen values: a changed schedule is another key, so nothing kept here can
    go stale; the least recently used shapes are dropped.
    """
    return WeekShape(schedule)


@lru_cache(maxsize=16384)
def period_ticks(day: date, start: time, end: time, tz: str) -> Span:
    """A wall-clock period as ticks; same rule as ``clock.period_to_utc``.

    Cached: practitioners mostly share the same hours, and the same days are asked again.
    """
    end_day = day if end > start else day + ONE_DAY
    return to_ticks(local_to_utc(day, start, tz)), to_ticks(local_to_utc(end_day, end, tz))
