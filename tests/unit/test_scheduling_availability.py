"""free_slots and pick_room: the grid, working time, buffers, rooms, the patient, time rules."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from scheduling_factories import (
    FALL_BACK,
    NOW,
    PATIENT_ID,
    SPRING_FORWARD,
    TREATMENT_ID,
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

from booking.scheduling import DateException, Interval, LocalPeriod, free_slots, pick_room, to_local

DAY = date(2026, 3, 10)  # a Tuesday, a week after NOW


def slots_on(
    day=DAY,
    *,
    treatment=None,
    practitioners=None,
    rooms=None,
    booked=(),
    policy=None,
    now=NOW,
    last_day=None,
    **kwargs,
):
    """free_slots for one day (or a range) with the factories' defaults."""
    return free_slots(
        treatment or make_treatment(),
        practitioners if practitioners is not None else [make_practitioner()],
        rooms if rooms is not None else [make_room()],
        booked,
        policy or make_policy(),
        day,
        last_day or day,
        now,
        **kwargs,
    )


def local_times(slots):
    """The wall-clock start times of slots, as ``HH:MM`` strings."""
    return [f"{to_local(s.start, TZ):%H:%M}" for s in slots]


def test_starts_step_through_the_period_and_the_appointment_fits_inside():
    person = make_practitioner(hours=week(time(9), time(12)))
    slots = slots_on(practitioners=[person])
    assert local_times(slots) == [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15",
        "10:30",
        "10:45",
        "11:00",
    ]
    assert all(s.end - s.start == timedelta(minutes=60) for s in slots)
    assert {(s.practitioner_id, s.room_id) for s in slots} == {(1, 1)}


def test_the_grid_counts_from_the_period_start():
    person = make_practitioner(hours=week(time(9, 10), time(10, 30)))
    assert local_times(slots_on(practitioners=[person])) == ["09:10", "09:25"]


def test_breaks_time_off_and_clinic_closures_are_not_offered():
    person = make_practitioner(
        hours=week(time(9), time(14)),
        breaks=week(time(10), time(11)),
        time_off=(Interval(local(2026, 3, 10, 12), local(2026, 3, 10, 12, 30)),),
    )
    policy = make_policy(closures=(Interval(local(2026, 3, 10, 13, 30), local(2026, 3, 10, 14)),))
    times = local_times(slots_on(practitioners=[person], policy=policy))
    assert times == ["09:00", "11:00", "12:30"]


def test_only_practitioners_who_give_the_treatment_are_offered_sorted_by_start_then_id():
    people = [
        make_practitioner(practitioner_id=3, hours=week(time(9), time(10))),
        make_practitioner(practitioner_id=2, treatment_ids=frozenset({99})),
        make_practitioner(practitioner_id=1, hours=week(time(9), time(10))),
    ]
    rooms = [make_room(room_id=1), make_room(room_id=2)]
    slots = slots_on(practitioners=people, rooms=rooms)
    # Slots are alternatives, each bookable on its own, so both may name room 1.
    assert [(s.practitioner_id, s.room_id) for s in slots] == [(1, 1), (3, 1)]


def test_an_exception_day_replaces_the_weekly_hours():
    person = make_practitioner(
        exceptions=(
            DateException(DAY, ((time(15), time(16, 30)),)),
            DateException(DAY + timedelta(1)),
        ),
    )
    assert local_times(slots_on(practitioners=[person])) == ["15:00", "15:15", "15:30"]
    assert slots_on(DAY + timedelta(days=1), practitioners=[person]) == []


def test_buffers_of_both_appointments_keep_them_apart():
    existing = make_booked(
        start=local(2026, 3, 10, 11), buffer_before_minutes=15, buffer_after_minutes=15
    )
    treatment = make_treatment(buffer_before_minutes=10, buffer_after_minutes=5)
    person = make_practitioner(hours=week(time(9), time(14)))
    times = local_times(slots_on(practitioners=[person], treatment=treatment, booked=[existing]))
    # Existing occupies 10:45-12:15; new occupies start-10 .. start+65.
    assert "09:30" in times and "09:45" not in times
    assert "12:15" not in times and "12:30" in times


def test_appointments_touching_without_buffers_are_fine():
    existing = make_booked(start=local(2026, 3, 10, 10))
    times = local_times(slots_on(booked=[existing]))
    assert "09:00" in times and "11:00" in times
    assert not {"09:15", "10:00", "10:45"} & set(times)


def test_a_busy_room_moves_the_slot_to_the_next_room_and_none_free_means_no_slot():
    other_practitioner = make_booked(practitioner_id=7, room_id=1, start=local(2026, 3, 10, 10))
    rooms = [make_room(room_id=2), make_room(room_id=1)]
    slots = slots_on(rooms=rooms, booked=[other_practitioner])
    at_ten = [s for s in slots if s.start == local(2026, 3, 10, 10)]
    assert [s.room_id for s in at_ten] == [2]
    assert [s.room_id for s in slots if s.start == local(2026, 3, 10, 12)] == [1]
    assert not [
        s for s in slots_on(booked=[other_practitioner]) if s.start == local(2026, 3, 10, 10)
    ]


def test_room_closures_and_rooms_that_do_not_serve_the_treatment():
    closed = make_room(closures=(Interval(local(2026, 3, 10, 9), local(2026, 3, 10, 17)),))
    wrong = make_room(room_id=2, treatment_ids=frozenset({99}))
    times = local_times(slots_on(rooms=[closed, wrong]))
    assert times == ["17:00"]


def test_a_treatment_without_room_has_no_room_and_ignores_rooms():
    slots = slots_on(treatment=make_treatment(needs_room=False), rooms=[])
    assert slots and {s.room_id for s in slots} == {None}


def test_the_patients_own_appointments_are_dropped_only_for_that_patient():
    mine = make_booked(
        patient_id=PATIENT_ID, practitioner_id=5, room_id=5, start=local(2026, 3, 10, 10)
    )
    for_me = local_times(slots_on(booked=[mine], patient_id=PATIENT_ID))
    for_someone_else = local_times(slots_on(booked=[mine], patient_id=PATIENT_ID + 1))
    assert "10:00" not in for_me and "09:15" not in for_me and "09:00" in for_me
    assert "10:00" in for_someone_else


def test_minimum_notice_prep_and_horizon():
    now = local(2026, 3, 10, 8)
    assert local_times(slots_on(now=now, policy=make_policy(min_notice_hours=3)))[0] == "11:00"
    prep = make_treatment(protocol=make_protocol(prep=(make_prep(lead_hours=5),)))
    policy = make_policy(min_notice_hours=0)
    assert local_times(slots_on(now=now, treatment=prep, policy=policy))[0] == "13:00"
    unprepared = slots_on(now=now, treatment=make_treatment(), policy=policy)
    assert local_times(unprepared)[0] == "09:00"
    horizon = make_policy(horizon_days=10)
    slots = slots_on(DAY, last_day=DAY + timedelta(days=30), policy=horizon)
    assert max(to_local(s.start, TZ).date() for s in slots) == date(2026, 3, 12)


def test_no_days_or_no_qualified_practitioner_means_no_slots():
    assert slots_on(DAY, last_day=DAY - timedelta(days=1)) == []
    assert slots_on(practitioners=[make_practitioner(treatment_ids=frozenset())]) == []


@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK])
def test_transition_days_offer_the_same_wall_clock_slots(day):
    now = local(2026, 3, 1) if day == SPRING_FORWARD else local(2026, 10, 1)
    normal = slots_on(day - timedelta(days=7), now=now)
    transition = slots_on(day, now=now)
    assert local_times(transition) == local_times(normal)
    assert local_times(transition)[0] == "09:00"
    offset = to_local(transition[0].start, TZ).utcoffset()
    assert offset == timedelta(hours=2 if day == SPRING_FORWARD else 1)


@pytest.mark.parametrize(("day", "count"), [(SPRING_FORWARD, 7), (FALL_BACK, 15)])
def test_a_night_period_over_the_transition_steps_in_real_time(day, count):
    # 01:00-04:00 on a Sunday lasts 2 h in spring and 4 h in autumn; 30-min treatment.
    person = make_practitioner(hours=(LocalPeriod(6, time(1), time(4)),))
    now = local(2026, 3, 1) if day == SPRING_FORWARD else local(2026, 10, 1)
    slots = slots_on(
        day, practitioners=[person], now=now, treatment=make_treatment(duration_minutes=30)
    )
    assert len(slots) == count
    assert all(b.start - a.start == timedelta(minutes=15) for a, b in zip(slots, slots[1:]))


def test_pick_room_takes_the_lowest_free_serving_room():
    treatment = make_treatment(buffer_after_minutes=15)
    rooms = [
        make_room(room_id=3),
        make_room(room_id=2),
        make_room(room_id=1, treatment_ids=frozenset()),
    ]
    asked = Interval(local(2026, 3, 10, 10), local(2026, 3, 10, 11))
    assert pick_room(treatment, asked, rooms, []) == 2
    # 08:50-09:50 plus its 15-minute clean-up holds room 2 until 10:05.
    just_before = make_booked(room_id=2, start=local(2026, 3, 10, 8, 50), buffer_after_minutes=15)
    assert pick_room(treatment, asked, rooms, [just_before]) == 3
    moved = frozenset({just_before.appointment_id})
    assert pick_room(treatment, asked, rooms, [just_before], ignore_ids=moved) == 2


def test_pick_room_skips_closed_rooms_and_answers_none_when_nothing_is_free():
    asked = Interval(local(2026, 3, 10, 10), local(2026, 3, 10, 11))
    closed = make_room(closures=(Interval(local(2026, 3, 10, 10, 30), local(2026, 3, 10, 12)),))
    assert pick_room(make_treatment(), asked, [closed], []) is None
    assert pick_room(make_treatment(), asked, [closed, make_room(room_id=4)], []) == 4


def test_the_treatment_id_matters_for_rooms():
    rooms = [make_room(treatment_ids=frozenset({TREATMENT_ID + 1}))]
    assert slots_on(rooms=rooms) == []


def test_periods_overlapping_across_midnight_offer_each_start_once():
    person = make_practitioner(
        hours=(LocalPeriod(1, time(22), time(2)), LocalPeriod(2, time(1), time(3)))
    )
    slots = slots_on(DAY, last_day=DAY + timedelta(days=1), practitioners=[person])
    starts = [s.start for s in slots]
    assert len(starts) == len(set(starts))
    assert local_times(slots) == [
        "22:00",
        "22:15",
        "22:30",
        "22:45",
        "23:00",
        "23:15",
        "23:30",
        "23:45",
        "00:00",
        "00:15",
        "00:30",
        "00:45",
        "01:00",
        "01:15",
        "01:30",
        "01:45",
        "02:00",
    ]
