"""Local wall clock to UTC, day bounds and working intervals, across both 2026 transitions."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from scheduling_factories import FALL_BACK, SPRING_FORWARD, TZ, local, make_practitioner, utc, week

from booking.scheduling import (
    DateException,
    Interval,
    LocalPeriod,
    local_day_bounds,
    local_to_utc,
    to_local,
    working_intervals,
    zone,
)


def test_zone_is_cached():
    assert zone(TZ) is zone(TZ)
    assert zone(TZ).key == TZ


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        (date(2026, 3, 10), time(10), utc(2026, 3, 10, 9)),  # winter, UTC+1
        (date(2026, 7, 10), time(10), utc(2026, 7, 10, 8)),  # summer, UTC+2
        (SPRING_FORWARD, time(1, 30), utc(2026, 3, 29, 0, 30)),  # before the jump
        (SPRING_FORWARD, time(3, 0), utc(2026, 3, 29, 1)),  # just after it
    ],
)
def test_local_to_utc(day, at, expected):
    assert local_to_utc(day, at, TZ) == expected


def test_time_in_the_spring_gap_moves_forward_by_the_gap():
    moment = local_to_utc(SPRING_FORWARD, time(2, 30), TZ)
    assert moment == utc(2026, 3, 29, 1, 30)
    assert to_local(moment, TZ).time() == time(3, 30)


def test_ambiguous_autumn_time_is_its_first_occurrence():
    moment = local_to_utc(FALL_BACK, time(2, 30), TZ)
    assert moment == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, not 02:30 CET
    assert to_local(moment, TZ).utcoffset() == timedelta(hours=2)


def test_a_fold_1_time_is_still_read_as_the_first_occurrence():
    assert local_to_utc(FALL_BACK, time(2, 30, fold=1), TZ) == utc(2026, 10, 25, 0, 30)


def test_to_local_shows_the_clinic_wall_clock():
    assert to_local(utc(2026, 3, 10, 9), TZ).hour == 10
    assert to_local(utc(2026, 3, 10, 9), TZ).tzinfo is zone(TZ)


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2026, 3, 10), 24), (SPRING_FORWARD, 23), (FALL_BACK, 25)]
)
def test_local_day_bounds_length(day, hours):
    bounds = local_day_bounds(day, TZ)
    assert bounds.end - bounds.start == timedelta(hours=hours)
    assert to_local(bounds.start, TZ).time() == time(0)
    assert to_local(bounds.start, TZ).date() == day


def test_working_intervals_remove_breaks_and_time_off():
    person = make_practitioner(
        breaks=week(time(13), time(14)),
        time_off=(Interval(local(2026, 3, 10, 16), local(2026, 3, 11, 9)),),
    )
    assert working_intervals(person, date(2026, 3, 10), TZ) == [
        Interval(local(2026, 3, 10, 9), local(2026, 3, 10, 13)),
        Interval(local(2026, 3, 10, 14), local(2026, 3, 10, 16)),
    ]


def test_working_intervals_follow_the_weekday():
    person = make_practitioner(hours=week(days=(1,)))  # Tuesdays only
    assert working_intervals(person, date(2026, 3, 9), TZ) == []  # a Monday
    assert working_intervals(person, date(2026, 3, 10), TZ) != []


def test_an_exception_replaces_the_week_and_breaks_apply_only_inside_it():
    person = make_practitioner(
        breaks=week(time(13), time(14)),
        exceptions=(DateException(date(2026, 3, 10), ((time(12), time(15)),)),),
    )
    assert working_intervals(person, date(2026, 3, 10), TZ) == [
        Interval(local(2026, 3, 10, 12), local(2026, 3, 10, 13)),
        Interval(local(2026, 3, 10, 14), local(2026, 3, 10, 15)),
    ]


def test_an_exception_with_no_periods_is_a_day_off():
    person = make_practitioner(exceptions=(DateException(date(2026, 3, 10)),))
    assert working_intervals(person, date(2026, 3, 10), TZ) == []
    assert working_intervals(person, date(2026, 3, 11), TZ) != []


@pytest.mark.parametrize(
    ("day", "start_utc", "end_utc"),
    [
        (date(2026, 3, 28), utc(2026, 3, 28, 8), utc(2026, 3, 28, 17)),
        (SPRING_FORWARD, utc(2026, 3, 29, 7), utc(2026, 3, 29, 16)),
        (date(2026, 10, 24), utc(2026, 10, 24, 7), utc(2026, 10, 24, 16)),
        (FALL_BACK, utc(2026, 10, 25, 8), utc(2026, 10, 25, 17)),
    ],
)
def test_working_hours_keep_local_time_across_transitions(day, start_utc, end_utc):
    person = make_practitioner()  # 09:00-18:00 every day
    assert working_intervals(person, day, TZ) == [Interval(start_utc, end_utc)]


@pytest.mark.parametrize(("day", "hours"), [(SPRING_FORWARD, 2), (FALL_BACK, 4)])
def test_a_night_period_over_the_transition_lasts_the_real_elapsed_time(day, hours):
    person = make_practitioner(hours=(LocalPeriod(6, time(1), time(4)),))  # Sunday night
    (period,) = working_intervals(person, day, TZ)
    assert period.end - period.start == timedelta(hours=hours)


def test_a_period_ending_at_midnight_or_overnight_ends_next_day():
    person = make_practitioner(
        hours=(LocalPeriod(1, time(18), time(0)), LocalPeriod(2, time(22), time(2)))
    )
    assert working_intervals(person, date(2026, 3, 10), TZ) == [
        Interval(local(2026, 3, 10, 18), local(2026, 3, 11, 0))
    ]
    assert working_intervals(person, date(2026, 3, 11), TZ) == [
        Interval(local(2026, 3, 11, 22), local(2026, 3, 12, 2))
    ]


def test_working_intervals_are_utc():
    (period,) = working_intervals(make_practitioner(), date(2026, 3, 10), TZ)
    assert period.start.utcoffset() == timedelta(0)
