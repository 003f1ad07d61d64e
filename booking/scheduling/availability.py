"""Free slots for a treatment, and the room an appointment would get.

The search works on sets of *allowed start times*. For a practitioner and a day it starts from
"every start that keeps the appointment inside working time" and cuts out, as whole spans, the
starts that would collide with a booked appointment (buffers on both sides), the patient's own
appointments, the notice/prep lead and the horizon. Only then are grid points read off the
surviving spans. Each collision is one span found by binary search, so the cost grows with
days x practitioners plus the number of appointments, never with their product.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from .clock import ONE_DAY, local_day_bounds
from .intervals import intersect_pairs, merge_pairs, subtract_pairs
from .model import (
    BookedAppointment,
    ClinicPolicy,
    Interval,
    PractitionerSchedule,
    RoomSchedule,
    Slot,
    TreatmentSpec,
)
from .rulebook import (
    before_horizon,
    closure_block,
    covers,
    held_block,
    fitting_starts,
    last_bookable_day,
    not_before_notice,
    not_before_now,
    not_before_prep,
)
from .start_sets import BlockedStarts, RoomCover, grid, overlay, shape_of
from .timeline import DAY, MINUTE, SpanList, from_ticks, to_ticks

# A free start as the search finds it: (start tick, practitioner id, room id or None).
Start = tuple[int, int, int | None]


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
    tick = to_ticks(occupied.start)
    duration = to_ticks(occupied.end) - tick
    # One pass over the diary for all rooms, rather than one per room.
    in_use = {
        a.room_id
        for a in booked
        if a.room_id is not None
        and a.appointment_id not in ignore_ids
        and covers((held_block(treatment, a),), tick)
    }
    serving = sorted(
        (r for r in rooms if treatment.treatment_id in r.treatment_ids), key=lambda r: r.room_id
    )
    for room in serving:
        closed = covers((closure_block(duration, c) for c in room.closures), tick)
        if room.room_id not in in_use and not closed:
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
    within: Sequence[tuple[int, int]] | None = None,
) -> list[Slot]:
    """Every bookable start for ``treatment`` on local days ``first_day..last_day``.

    Sorted by (start, practitioner_id); each slot names the practitioner and, when the
    treatment needs one, the lowest-id free room. See the module docstring for the method.
    ``within`` (start ticks) keeps only starts the series rules allow.
    """
    search = FreeStarts(
        treatment,
        rooms,
        booked,
        policy,
        first_day,
        last_day,
        now,
        patient_id=patient_id,
        within=within,
    )
    return as_slots(search.starts(practitioners), search.duration)


class FreeStarts:
    """The free starts of ``free_slots`` as ticks, asked for a group of practitioners at a time.

    The diary index and the room cover are built once, so a caller that wants one
    practitioner's starts first and everyone else's only when those run out (the series
    planner) pays for each practitioner at most once and for no datetimes at all.
    """

    def __init__(
        self,
        treatment: TreatmentSpec,
        rooms: Sequence[RoomSchedule],
        booked: Sequence[BookedAppointment],
        policy: ClinicPolicy,
        first_day: date,
        last_day: date,
        now: datetime,
        *,
        patient_id: int | None = None,
        within: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        """Index the diary for local days ``first_day..last_day`` (cut at the horizon).

        ``within``, merged start ticks, keeps only the starts the series rules allow (the
        spacing to a session's neighbours, a valid consultation, dates kept clear).
        """
        tz = policy.timezone
        self.treatment = treatment
        self.duration = treatment.duration_minutes * MINUTE
        last_day = min(last_day, last_bookable_day(now, policy))
        self.days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
        self._search: _Search | None = None
        if not self.days:
            return
        low, high = self.reach(first_day, last_day, tz)
        blocked = BlockedStarts(treatment, booked, low, high, patient_id)
        self._search = _Search(
            treatment=treatment,
            policy=policy,
            blocked=blocked,
            rooms=RoomCover(treatment, rooms, blocked) if treatment.needs_room else None,
            earliest=max(
                not_before_now(now),
                not_before_notice(now, policy),
                not_before_prep(now, treatment.protocol),
            ),
            latest=before_horizon(now, policy),
            within=SpanList(within) if within is not None else None,
        )

    @staticmethod
    def reach(first_day: date, last_day: date, tz: str) -> tuple[int, int]:
        """Ticks ``[low, high]``: a booked appointment wholly outside them changes nothing.

        The local days with two days' margin on both sides, for periods that run past
        midnight. A caller may hand over only the appointments that meet this span.
        """
        low = to_ticks(local_day_bounds(first_day, tz).start) - 2 * DAY
        high = to_ticks(local_day_bounds(last_day, tz).end) + 2 * DAY
        return low, high

    def starts(self, practitioners: Iterable[PractitionerSchedule]) -> list[Start]:
        """Free starts of those of ``practitioners`` who give the treatment, by (tick, id)."""
        if self._search is None:
            return []
        tid = self.treatment.treatment_id
        found: list[Start] = []
        for person in practitioners:
            if tid in person.treatment_ids:
                found.extend(self._search.starts_for(person, self.days))
        # (start, practitioner) never repeats, so plain tuple order is (start, practitioner).
        found.sort()
        return found


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
        within: SpanList | None,
    ) -> None:
        """Keep the shared inputs, in ticks."""
        self.tz = policy.timezone
        self.policy = policy
        self.duration = treatment.duration_minutes * MINUTE
        self.step = max(1, policy.slot_step_minutes) * MINUTE
        self.blocked = blocked
        self.within = within
        self.rooms = rooms
        self.earliest = earliest
        self.latest = latest
        self._spans: dict[tuple[date, date], tuple[int, int]] = {}

    def starts_for(self, person: PractitionerSchedule, days: list[date]) -> list[Start]:
        """``(start tick, practitioner id, room id)`` of every free start for one person.

        Day by day only what depends on the day (its periods, and the starts that fit in its
        working time); the rest (notice, horizon, series rules, bookings, rooms) is cut from
        the whole window at once, then the grid of each period is read off what is left.
        """
        tz, duration, step, pid = self.tz, self.duration, self.step, person.practitioner_id
        shape, closures = shape_of(person), self.policy.closures
        periods: list[tuple[int, int]] = []
        fitting: list[tuple[int, int]] = []
        for day in days:
            day_periods, working = shape.day(day, tz, closures)
            if day_periods:
                periods.extend(day_periods)
                fitting.extend(fitting_starts(duration, working))
        starts = [
            (max(s, self.earliest), min(e, self.latest)) for s, e in merge_pairs(fitting)
        ]
        starts = [(s, e) for s, e in starts if s < e]
        if not starts:
            return []
        lo, hi = starts[0][0], starts[-1][1]
        if self.within is not None:
            starts = intersect_pairs(starts, self.within.within(lo, hi))
        starts = subtract_pairs(starts, self.blocked.practitioner(pid).within(lo, hi))
        if self.blocked.patient:
            starts = subtract_pairs(starts, self.blocked.patient.within(lo, hi))
        if self.rooms is None:
            pieces: list[tuple[int, int, int | None]] = [(s, e, None) for s, e in starts]
        else:
            pieces = overlay(starts, self.rooms.over(self._window(days)))
        periods.sort()
        found = [
            (tick, pid, room_id)
            for anchor, period_end, s, e, room_id in _meeting(periods, pieces)
            for tick in grid(anchor, step, max(s, anchor), min(e, period_end))
        ]
        if len(found) > 1 and _overlapping(periods):
            # Overlapping periods (or one running into the next day's) offer a start twice.
            found = sorted(set(found))
        return found

    def _window(self, days: list[date]) -> tuple[int, int]:
        """Ticks from the first day's start to the end of the day after the last one (a
        period may run past midnight); cached, every practitioner asks for the same."""
        key = (days[0], days[-1])
        window = self._spans.get(key)
        if window is None:
            window = self._spans[key] = (
                to_ticks(local_day_bounds(days[0], self.tz).start),
                to_ticks(local_day_bounds(days[-1] + ONE_DAY, self.tz).end),
            )
        return window



def _meeting(periods: Sequence[tuple[int, int]], pieces: Sequence[tuple[int, int, int | None]]):
    """``(anchor, period end, piece start, piece end, room)`` for each period and free piece
    that meet; both sorted by start (the periods may overlap, the pieces do not)."""
    first = 0
    for anchor, period_end in periods:
        while first < len(pieces) and pieces[first][1] <= anchor:
            first += 1
        k = first
        while k < len(pieces) and pieces[k][0] < period_end:
            s, e, room_id = pieces[k]
            yield anchor, period_end, s, e, room_id
            k += 1


def _overlapping(periods: Sequence[tuple[int, int]]) -> bool:
    """True when two of the sorted periods overlap."""
    return any(b[0] < a[1] for a, b in zip(periods, periods[1:]))


def as_slots(found: Iterable[Start], duration: int) -> list[Slot]:
    """Slots from ``(start tick, practitioner, room)``; building them is the main cost.

    Practitioners share grid times, so each start's datetimes are made once and reused.
    ``duration`` is in ticks.
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
