"""plan_series on random diaries: spacing, free placements, and the same answer every time."""

from __future__ import annotations

import random
from datetime import date, time, timedelta

from hypothesis import given
from hypothesis import strategies as st
from scheduling_factories import (
    NOW,
    PATIENT_ID,
    PROPERTY_SETTINGS,
    TZ,
    local,
    make_booked,
    make_policy,
    make_practitioner,
    make_room,
    make_series_protocol,
    make_treatment,
    week,
)

from booking.scheduling import (
    DateException,
    check_hours,
    check_patient_busy,
    check_slot_taken,
    plan_series,
    to_local,
)
from booking.scheduling.series import spacing

# Spans the spring transition; series run on into April and May.
DAYS = [date(2026, 3, 9) + timedelta(days=n) for n in range(60)]


@st.composite
def requests(draw):
    """A random clinic diary and a series to plan in it."""

    def day():
        return draw(st.sampled_from(DAYS))

    def moment(first_hour=7, last_hour=18):
        d = day()
        minute = 5 * draw(st.integers(first_hour * 12, last_hour * 12))
        return local(d.year, d.month, d.day, minute // 60, minute % 60)

    practitioners = [
        make_practitioner(
            practitioner_id=pid,
            hours=week(
                time(draw(st.integers(7, 10))),
                time(draw(st.integers(14, 19))),
                days=tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=1)))),
            ),
            exceptions=tuple(DateException(day()) for _ in range(draw(st.integers(0, 3)))),
        )
        for pid in draw(st.sampled_from([(1,), (1, 2), (2, 1)]))
    ]
    rooms = [make_room(room_id=r) for r in draw(st.sampled_from([(1,), (1, 2)]))]
    low = draw(st.integers(0, 7))
    target = low + draw(st.integers(0, 7))
    high = target + draw(st.integers(0, 7))
    treatment = make_treatment(
        duration_minutes=draw(st.sampled_from([30, 45, 60])),
        buffer_after_minutes=draw(st.sampled_from([0, 10])),
        needs_room=draw(st.booleans()),
        protocol=make_series_protocol(
            sessions=draw(st.integers(2, 5)),
            interval_min_days=low,
            interval_target_days=target,
            interval_max_days=high,
            aftercare_hours=draw(st.sampled_from([0, 24, 72])),
        ),
    )
    booked = []
    for _ in range(draw(st.integers(0, 25))):
        start = moment()
        booked.append(
            make_booked(
                start=start,
                end=start + timedelta(minutes=5 * draw(st.integers(6, 48))),
                practitioner_id=draw(st.sampled_from([1, 2])),
                room_id=draw(st.sampled_from([None, 1, 2])),
                patient_id=draw(st.sampled_from([PATIENT_ID, 7])),
                buffer_after_minutes=draw(st.sampled_from([0, 15])),
            )
        )
    return dict(
        treatment=treatment,
        first_start=moment(8, 16),
        practitioners=practitioners,
        rooms=rooms,
        booked=booked,
        policy=make_policy(horizon_days=draw(st.sampled_from([180, 40]))),
        now=NOW,
        practitioner_id=draw(st.sampled_from([None, 1, 2])),
        patient_id=draw(st.sampled_from([None, PATIENT_ID])),
        avoid_dates=tuple(day() for _ in range(draw(st.integers(0, 2)))),
        avoid_days_before=draw(st.sampled_from([None, 0, 2])),
    )


def run(r, shuffle_with=None):
    """plan_series on the request, its lists optionally shuffled."""
    lists = [list(r["practitioners"]), list(r["rooms"]), list(r["booked"])]
    if shuffle_with is not None:
        for items in lists:
            shuffle_with.shuffle(items)
    return plan_series(
        r["treatment"],
        r["first_start"],
        lists[0],
        lists[1],
        lists[2],
        r["policy"],
        r["now"],
        practitioner_id=r["practitioner_id"],
        patient_id=r["patient_id"],
        avoid_dates=r["avoid_dates"],
        avoid_days_before=r["avoid_days_before"],
    )


def local_day(moment):
    """The clinic's date of a moment."""
    return to_local(moment, TZ).date()


@PROPERTY_SETTINGS
@given(requests())
def test_placed_sessions_keep_the_protocol_spacing_from_the_previous_one(r):
    plan = run(r)
    _, low, high = spacing(r["treatment"].protocol)
    assert [s.index for s in plan.sessions] == list(range(r["treatment"].protocol.sessions))
    for before, after in zip(plan.sessions, plan.sessions[1:]):
        if after.placed:
            assert low <= (local_day(after.start) - local_day(before.start)).days <= high
        else:
            assert [p.session_index for p in plan.problems].count(after.index) == 1


@PROPERTY_SETTINGS
@given(requests())
def test_placed_sessions_are_free_when_placed(r):
    plan = run(r)
    treatment = r["treatment"]
    people = {p.practitioner_id: p for p in r["practitioners"]}
    held = list(r["booked"])
    for session in plan.sessions:
        if not session.placed:
            continue
        start, end = session.start, session.end
        assert check_hours(start, end, people[session.practitioner_id], r["policy"]) == []
        assert (
            check_slot_taken(treatment, start, end, session.practitioner_id, session.room_id, held)
            == []
        )
        assert check_patient_busy(start, end, r["patient_id"], held) == []
        assert (session.room_id is not None) == treatment.needs_room
        if session.index > 0:
            assert local_day(start) not in blocked_days(r)
        held.append(
            make_booked(
                appointment_id=-1 - session.index,
                patient_id=r["patient_id"] if r["patient_id"] is not None else -1,
                practitioner_id=session.practitioner_id,
                room_id=session.room_id,
                start=start,
                end=end,
                buffer_after_minutes=treatment.buffer_after_minutes,
            )
        )


def blocked_days(r):
    """The avoid dates and the days kept clear before them."""
    before = r["avoid_days_before"]
    if before is None:
        before = max(1, -(-r["treatment"].protocol.aftercare_hours // 24))
    return {d - timedelta(days=n) for d in r["avoid_dates"] for n in range(before + 1)}


@PROPERTY_SETTINGS
@given(requests(), st.integers(0, 1000))
def test_planning_is_deterministic_whatever_the_order_of_the_inputs(r, seed):
    first = run(r)
    assert run(r) == first
    assert run(r, shuffle_with=random.Random(seed)) == first
