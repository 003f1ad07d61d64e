"""plan_series: the first session as asked, the rest by the protocol, across DST, with gaps."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from scheduling_factories import (
    NOW,
    PATIENT_ID,
    TZ,
    local,
    make_booked,
    make_policy,
    make_practitioner,
    make_prep,
    make_room,
    make_series_protocol,
    make_treatment,
    week,
)

from booking.scheduling import DateException, Interval, plan_series, to_local
from booking.scheduling.series import first_keep_clear_break, kept_clear_starts

FIRST = local(2026, 3, 10, 10)  # Tue 10 Mar 10:00


def plan(
    first_start=FIRST,
    *,
    treatment=None,
    practitioners=None,
    rooms=None,
    booked=(),
    policy=None,
    now=NOW,
    **kwargs,
):
    """plan_series with a weekly four-session treatment and the factories' defaults."""
    return plan_series(
        treatment or make_treatment(protocol=make_series_protocol()),
        first_start,
        practitioners if practitioners is not None else [make_practitioner()],
        rooms if rooms is not None else [make_room()],
        list(booked),
        policy or make_policy(),
        now,
        **kwargs,
    )


def wall(session):
    """A session's start on the clinic's wall clock, as ``YYYY-MM-DD HH:MM``."""
    return f"{to_local(session.start, TZ):%Y-%m-%d %H:%M}"


def test_a_free_diary_gives_a_weekly_series_at_the_same_time():
    result = plan()
    assert result.ok and result.problems == ()
    assert [wall(s) for s in result.sessions] == [
        "2026-03-10 10:00",
        "2026-03-17 10:00",
        "2026-03-24 10:00",
        "2026-03-31 10:00",
    ]
    assert [s.index for s in result.sessions] == [0, 1, 2, 3]
    assert all(s.placed and s.practitioner_id == 1 and s.room_id == 1 for s in result.sessions)
    assert all(s.end - s.start == timedelta(hours=1) for s in result.sessions)


@pytest.mark.parametrize(
    ("first", "dates"),
    [
        (local(2026, 3, 20, 10), ["2026-03-20", "2026-03-27", "2026-04-03", "2026-04-10"]),
        (local(2026, 3, 22, 10), ["2026-03-22", "2026-03-29", "2026-04-05", "2026-04-12"]),
        (local(2026, 10, 16, 10), ["2026-10-16", "2026-10-23", "2026-10-30", "2026-11-06"]),
        (local(2026, 10, 18, 10), ["2026-10-18", "2026-10-25", "2026-11-01", "2026-11-08"]),
    ],
)
def test_a_series_across_a_transition_keeps_ten_o_clock_local(first, dates):
    now = first - timedelta(days=10)
    result = plan(first, now=now)
    assert result.ok
    assert [wall(s) for s in result.sessions] == [f"{d} 10:00" for d in dates]
    offsets = {to_local(s.start, TZ).utcoffset() for s in result.sessions}
    assert len(offsets) == 2  # so the UTC time did change


def test_the_first_session_not_free_is_not_placed_and_alternatives_are_nearest():
    busy = make_booked(start=FIRST)
    result = plan(booked=[busy])
    first = result.sessions[0]
    assert not first.placed and first.start == FIRST and first.practitioner_id is None
    # Both the practitioner and the room are taken, and both are said.
    assert {(p.code, p.session_index) for p in result.problems} == {("slot_taken", 0)}
    assert len(result.problems) == 2
    assert [f"{to_local(a.start, TZ):%H:%M}" for a in first.alternatives] == [
        "09:00",
        "11:00",
        "11:15",
        "11:30",
        "11:45",
    ]
    # The following sessions still go on from the asked date.
    assert wall(result.sessions[1]) == "2026-03-17 10:00"


def test_the_first_session_outside_hours():
    result = plan(local(2026, 3, 10, 20))
    assert [p.code for p in result.problems] == ["outside_hours"]
    assert not result.sessions[0].placed and result.sessions[0].alternatives


def test_the_first_session_too_soon_for_prep_is_not_placed():
    treatment = make_treatment(protocol=make_series_protocol(prep=(make_prep(),)))
    result = plan(treatment=treatment)  # FIRST is 8 days after NOW; prep needs 7: fine
    assert result.ok
    soon = plan(local(2026, 3, 5, 10), treatment=treatment)
    assert [p.code for p in soon.problems][0] == "prep_window"
    assert all(a.start >= NOW + timedelta(days=7) for a in soon.sessions[0].alternatives)


def test_the_first_session_may_be_off_the_grid():
    result = plan(local(2026, 3, 10, 10, 7))
    assert result.ok and wall(result.sessions[0]) == "2026-03-10 10:07"


def test_with_no_practitioner_named_the_lowest_free_id_is_taken():
    people = [make_practitioner(practitioner_id=2), make_practitioner(practitioner_id=3)]
    result = plan(practitioners=people, booked=[make_booked(practitioner_id=2, room_id=None)])
    assert result.ok and {s.practitioner_id for s in result.sessions} == {3}


def test_a_named_practitioner_who_does_not_give_it():
    people = [make_practitioner(), make_practitioner(practitioner_id=2, treatment_ids=frozenset())]
    result = plan(practitioners=people, practitioner_id=2)
    assert [p.code for p in result.problems][0] == "wrong_practitioner"
    assert {a.practitioner_id for a in result.sessions[0].alternatives} == {1}


def test_no_room_for_the_first_session():
    closed = make_room(closures=(Interval(FIRST, FIRST + timedelta(hours=1)),))
    assert [p.code for p in plan(rooms=[closed]).problems] == ["outside_hours"]
    assert [p.code for p in plan(rooms=[]).problems][0] == "wrong_room"
    taken = make_booked(start=FIRST, practitioner_id=5)
    assert [p.code for p in plan(booked=[taken]).problems] == ["slot_taken"]


def test_a_busy_target_day_moves_to_the_nearest_time_that_day_first():
    busy = make_booked(start=local(2026, 3, 17, 10))
    result = plan(booked=[busy])
    assert result.ok and wall(result.sessions[1]) == "2026-03-17 09:00"


def test_a_day_off_on_the_target_takes_the_nearest_day_earlier_first_on_ties():
    person = make_practitioner(exceptions=(DateException(date(2026, 3, 17)),))
    result = plan(practitioners=[person])
    assert wall(result.sessions[1]) == "2026-03-16 10:00"
    assert wall(result.sessions[2]) == "2026-03-23 10:00"  # counted from the 16th


def test_the_first_sessions_practitioner_is_preferred_over_a_better_day():
    one = make_practitioner(
        exceptions=(DateException(date(2026, 3, 17)), DateException(date(2026, 3, 16)))
    )
    two = make_practitioner(practitioner_id=2)
    result = plan(practitioners=[one, two], rooms=[make_room(), make_room(room_id=2)])
    assert result.sessions[1].practitioner_id == 1
    assert wall(result.sessions[1]) == "2026-03-18 10:00"


def test_another_practitioner_when_the_preferred_one_has_nothing_in_the_window():
    away = Interval(local(2026, 3, 14, 0), local(2026, 3, 21, 0))
    one = make_practitioner(time_off=(away,))
    two = make_practitioner(practitioner_id=2)
    result = plan(practitioners=[one, two])
    assert result.ok
    assert [s.practitioner_id for s in result.sessions] == [1, 2, 1, 1]


def test_nothing_in_the_window_gives_a_problem_alternatives_and_the_target_date():
    away = Interval(local(2026, 3, 14, 0), local(2026, 3, 21, 0))
    result = plan(practitioners=[make_practitioner(time_off=(away,))])
    second = result.sessions[1]
    assert not second.placed and wall(second) == "2026-03-17 10:00"
    (problem,) = result.problems
    assert problem.code == "outside_hours" and problem.session_index == 1
    assert problem.message.startswith(
        "Session 2 could not be placed between Sun 15 Mar and Fri 20 Mar"
    )
    assert len(second.alternatives) == 5
    assert not any(away.overlaps(Interval(a.start, a.end)) for a in second.alternatives)
    assert wall(result.sessions[2]) == "2026-03-24 10:00"


def test_a_fully_booked_window_is_slot_taken():
    booked = [
        make_booked(start=local(2026, 3, d, 9), end=local(2026, 3, d, 18), patient_id=5)
        for d in range(15, 21)
    ]
    result = plan(booked=booked)
    assert [(p.code, p.session_index) for p in result.problems] == [("slot_taken", 1)]


def test_the_horizon_stops_late_sessions():
    result = plan(policy=make_policy(horizon_days=18))  # up to Fri 20 Mar
    assert [(p.code, p.session_index) for p in result.problems] == [
        ("beyond_horizon", 2),
        ("beyond_horizon", 3),
    ]
    assert wall(result.sessions[1]) == "2026-03-17 10:00"


def test_the_patients_own_appointments_are_avoided():
    mine = make_booked(
        start=local(2026, 3, 17, 10), patient_id=PATIENT_ID, practitioner_id=9, room_id=9
    )
    assert wall(plan(booked=[mine]).sessions[1]) == "2026-03-17 10:00"
    assert wall(plan(booked=[mine], patient_id=PATIENT_ID).sessions[1]) == "2026-03-17 09:00"


def test_sessions_placed_earlier_in_the_plan_are_busy_for_later_ones():
    same_day = make_treatment(
        protocol=make_series_protocol(
            sessions=3, interval_min_days=0, interval_target_days=0, interval_max_days=0
        )
    )
    result = plan(treatment=same_day)
    assert [wall(s) for s in result.sessions] == [
        "2026-03-10 10:00",
        "2026-03-10 09:00",
        "2026-03-10 11:00",
    ]


def test_avoid_dates_keep_the_days_before_clear():
    treatment = make_treatment(protocol=make_series_protocol(aftercare_hours=48))
    result = plan(treatment=treatment, avoid_dates=[date(2026, 3, 18)])
    # 16, 17, 18 March are kept clear (two days of aftercare); the 15th and the 19th are
    # equally close to the target and the earlier wins.
    assert wall(result.sessions[1]) == "2026-03-15 10:00"
    shorter = plan(avoid_dates=[date(2026, 3, 18)], avoid_days_before=0)
    assert wall(shorter.sessions[1]) == "2026-03-17 10:00"
    # No days before asked for, but two days of aftercare from the 16th or 17th would still
    # reach the 18th: the aftercare keeps them clear.
    aftercare = plan(treatment=treatment, avoid_dates=[date(2026, 3, 18)], avoid_days_before=0)
    assert wall(aftercare.sessions[1]) == "2026-03-15 10:00"
    one_day = plan(avoid_dates=[date(2026, 3, 18)])  # no aftercare: still one day before
    assert wall(one_day.sessions[1]) == "2026-03-16 10:00"


def test_a_session_whose_prep_step_falls_on_a_kept_clear_date_is_moved():
    # Session 2 aims at Tue 17 Mar; the 16th is kept clear (no days before it).
    without_prep = plan(avoid_dates=[date(2026, 3, 16)], avoid_days_before=0)
    assert wall(without_prep.sessions[1]) == "2026-03-17 10:00"
    # "No alcohol" 24 h before a session on the 17th falls due on the 16th itself: the 18th
    # (one day off the target) is taken instead of the 15th (two days off).
    treatment = make_treatment(protocol=make_series_protocol(prep=(make_prep(instruction="No alcohol", lead_hours=24),)))
    with_prep = plan(treatment=treatment, avoid_dates=[date(2026, 3, 16)], avoid_days_before=0)
    assert wall(with_prep.sessions[1]) == "2026-03-18 10:00"
    for session in with_prep.sessions:
        assert to_local(session.start - timedelta(hours=24), TZ).date() != date(2026, 3, 16)


def test_the_pure_keep_clear_rule_covers_the_day_its_prep_steps_and_aftercare():
    prep = make_treatment(protocol=make_series_protocol(prep=(make_prep(instruction="No alcohol", lead_hours=24),)))
    keep = [date(2026, 3, 16)]
    # Prep due 16 Mar 10:00 (start 17 Mar 10:00) and due 16 Mar 23:45 (start 17 Mar 23:45)
    assert first_keep_clear_break(prep, [FIRST, local(2026, 3, 17, 10)], keep, TZ, 0) == 1
    assert first_keep_clear_break(prep, [local(2026, 3, 17, 23, 45)], keep, TZ, 0) == 0
    # Due 17 Mar 00:00, and a session ending at midnight before the 16th: both keep it clear.
    assert first_keep_clear_break(prep, [local(2026, 3, 18, 0), local(2026, 3, 15, 23)], keep, TZ, 0) is None
    # A session on the day itself is kept off it
    assert first_keep_clear_break(prep, [local(2026, 3, 16, 12)], keep, TZ, 0) == 0
    # 48 h of aftercare after a 60-minute session: from the 14th 11:00 it runs to the 16th 11:00.
    aftercare = make_treatment(protocol=make_series_protocol(aftercare_hours=48))
    assert first_keep_clear_break(aftercare, [local(2026, 3, 14, 10)], keep, TZ, 0) == 0
    assert first_keep_clear_break(aftercare, [local(2026, 3, 13, 23, 15)], keep, TZ, 0) == 0
    assert first_keep_clear_break(aftercare, [local(2026, 3, 13, 23)], keep, TZ, 0) is None
    assert first_keep_clear_break(aftercare, [local(2026, 3, 17, 0)], keep, TZ, 0) is None
    # The spans are merged and sorted, computed once for a plan.
    spans = kept_clear_starts(prep, keep, TZ, 0)
    assert list(spans) == sorted(spans) and all(a < b for a, b in spans)


def test_a_first_session_in_the_avoided_days_is_flagged():
    result = plan(avoid_dates=[date(2026, 3, 11)])
    assert result.sessions[0].placed
    assert [(p.code, p.session_index) for p in result.problems] == [("aftercare_conflict", 0)]


def test_a_single_session_treatment_plans_one_session():
    result = plan(treatment=make_treatment())
    assert len(result.sessions) == 1 and result.ok


def test_wall_clock_hours_on_the_transition_day_itself():
    person = make_practitioner(hours=week(time(8), time(12), days=(6,)))  # Sundays only
    result = plan(local(2026, 10, 18, 8), practitioners=[person], now=local(2026, 10, 1))
    assert [wall(s) for s in result.sessions][:2] == ["2026-10-18 08:00", "2026-10-25 08:00"]
