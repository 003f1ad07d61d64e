"""free_slots against a slow, obvious oracle built from the single checks, on random diaries.

The oracle walks every grid point of every working period and asks the booking checks about
it; free_slots must offer exactly those starts, with the room pick_room would give.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from hypothesis import given
from hypothesis import strategies as st
from scheduling_factories import (
    PATIENT_ID,
    PROPERTY_SETTINGS,
    TZ,
    local,
    make_booked,
    make_policy,
    make_practitioner,
    make_prep,
    make_protocol,
    make_room,
    make_treatment,
    week,
)

from booking.scheduling import (
    Interval,
    check_aftercare,
    check_horizon,
    check_hours,
    check_min_notice,
    check_patient_busy,
    check_prep_window,
    check_room_open,
    check_slot_taken,
    free_slots,
    pick_room,
    to_local,
)
from booking.scheduling.clock import day_periods


def at(minute: int) -> time:
    """A wall-clock time from minutes after midnight."""
    return time(minute // 60, minute % 60)


# An ordinary week, and the weekends of both transitions (Sat, Sun, Mon).
FIRST_DAYS = [date(2026, 3, 10), date(2026, 3, 28), date(2026, 10, 24)]


@st.composite
def scenarios(draw):
    """A random clinic: practitioners, rooms, a treatment, a policy and a booked diary."""
    first_day = draw(st.sampled_from(FIRST_DAYS))
    days = [first_day + timedelta(days=n) for n in range(3)]

    def moment(day_offset_max=2):
        day = days[draw(st.integers(0, day_offset_max))]
        # Five-minute marks make touching spans (the off-by-one cases) common.
        minute = 5 * draw(st.integers(6 * 12, 20 * 12))
        return local(day.year, day.month, day.day, minute // 60, minute % 60)

    def span(max_minutes):
        start = moment()
        return Interval(
            start, start + timedelta(minutes=5 * draw(st.integers(1, max_minutes // 5)))
        )

    practitioners = []
    for practitioner_id in (1, 2):
        begin = 5 * draw(st.integers(7 * 12, 10 * 12))
        end = 5 * draw(st.integers(begin // 5 + 12, 19 * 12))
        pause = 5 * draw(st.integers(begin // 5, end // 5))
        practitioners.append(
            make_practitioner(
                practitioner_id=practitioner_id,
                hours=week(at(begin), at(end)),
                breaks=week(at(pause), at(min(pause + 45, end))) if draw(st.booleans()) else (),
                time_off=tuple(span(240) for _ in range(draw(st.integers(0, 1)))),
            )
        )
    rooms = [
        make_room(
            room_id=room_id, closures=tuple(span(300) for _ in range(draw(st.integers(0, 1))))
        )
        for room_id in draw(st.sampled_from([(1,), (1, 2), (2, 1)]))
    ]
    treatment = make_treatment(
        duration_minutes=draw(st.sampled_from([15, 30, 45, 60, 90])),
        buffer_before_minutes=draw(st.sampled_from([0, 5, 10])),
        buffer_after_minutes=draw(st.sampled_from([0, 10, 15])),
        needs_room=draw(st.booleans()),
        protocol=make_protocol(prep=(make_prep(lead_hours=draw(st.sampled_from([0, 20, 40]))),)),
    )
    booked = []
    for _ in range(draw(st.integers(0, 12))):
        start = moment()
        booked.append(
            make_booked(
                start=start,
                end=start + timedelta(minutes=5 * draw(st.integers(2, 24))),
                practitioner_id=draw(st.sampled_from([1, 2, 1, 3])),
                room_id=draw(st.sampled_from([None, 1, 2])),
                patient_id=draw(st.sampled_from([PATIENT_ID, 200])),
                buffer_before_minutes=draw(st.sampled_from([0, 5, 15])),
                buffer_after_minutes=draw(st.sampled_from([0, 10, 20])),
            )
        )
    policy = make_policy(
        slot_step_minutes=draw(st.sampled_from([10, 15, 20, 30])),
        min_notice_hours=draw(st.integers(0, 24)),
        horizon_days=draw(st.sampled_from([30, 1, 2, 3])),
        closures=tuple(span(200) for _ in range(draw(st.integers(0, 1)))),
    )
    eve = first_day - timedelta(days=1)
    now = local(eve.year, eve.month, eve.day, 12) + timedelta(hours=draw(st.integers(-12, 24)))
    patient_id = draw(st.sampled_from([None, PATIENT_ID]))
    return dict(
        treatment=treatment,
        practitioners=practitioners,
        rooms=rooms,
        booked=booked,
        policy=policy,
        days=days,
        now=now,
        patient_id=patient_id,
    )


def run(s):
    """free_slots over the scenario's days."""
    return free_slots(
        s["treatment"],
        s["practitioners"],
        s["rooms"],
        s["booked"],
        s["policy"],
        s["days"][0],
        s["days"][-1],
        s["now"],
        patient_id=s["patient_id"],
    )


def overlaps_busy_time(s, slot):
    """Direct test, no checks module: does the slot's buffered span meet a booked one?"""
    t = s["treatment"]
    low = slot.start - timedelta(minutes=t.buffer_before_minutes)
    high = slot.end + timedelta(minutes=t.buffer_after_minutes)
    for a in s["booked"]:
        same = a.practitioner_id == slot.practitioner_id or (
            slot.room_id is not None and a.room_id == slot.room_id
        )
        a_low = a.start - timedelta(minutes=a.buffer_before_minutes)
        a_high = a.end + timedelta(minutes=a.buffer_after_minutes)
        if same and a_low < high and low < a_high:
            return True
    return False


def oracle(s):
    """Every grid start the single checks accept, as (start, practitioner, room)."""
    t, policy, now = s["treatment"], s["policy"], s["now"]
    duration = timedelta(minutes=t.duration_minutes)
    step = timedelta(minutes=policy.slot_step_minutes)
    found = set()
    for person in s["practitioners"]:
        for day in s["days"]:
            for period in day_periods(person, day, TZ):
                start = period.start
                while start < period.end:
                    end = start + duration
                    room_id = pick_room(t, Interval(start, end), s["rooms"], s["booked"])
                    problems = (
                        check_hours(start, end, person, policy)
                        + check_min_notice(start, now, policy)
                        + check_horizon(start, now, policy)
                        + check_slot_taken(t, start, end, person.practitioner_id, None, s["booked"])
                        + check_patient_busy(start, end, s["patient_id"], s["booked"])
                        + check_aftercare(t, start, end, s["patient_id"], s["booked"])
                        + check_prep_window(start, now, t.protocol)
                    )
                    if not problems and not (t.needs_room and room_id is None):
                        found.add(
                            (start, person.practitioner_id, room_id if t.needs_room else None)
                        )
                    start += step
    return found


@PROPERTY_SETTINGS
@given(scenarios())
def test_free_slots_are_exactly_the_grid_starts_every_check_accepts(s):
    slots = run(s)
    assert {(x.start, x.practitioner_id, x.room_id) for x in slots} == oracle(s)
    assert slots == sorted(slots, key=lambda x: (x.start, x.practitioner_id))


@PROPERTY_SETTINGS
@given(scenarios())
def test_a_free_slot_never_meets_busy_time_nor_leaves_working_hours(s):
    people = {p.practitioner_id: p for p in s["practitioners"]}
    rooms = {r.room_id: r for r in s["rooms"]}
    for slot in run(s):
        assert not overlaps_busy_time(s, slot)
        assert check_hours(slot.start, slot.end, people[slot.practitioner_id], s["policy"]) == []
        if slot.room_id is not None:
            assert check_room_open(slot.start, slot.end, rooms[slot.room_id]) == []
        if s["patient_id"] is not None:
            assert check_patient_busy(slot.start, slot.end, s["patient_id"], s["booked"]) == []
        assert slot.start >= s["now"] + timedelta(hours=s["policy"].min_notice_hours)
        assert to_local(slot.start, TZ).date() in s["days"]
