"""Every single check: one case that passes, and the cases that raise each problem code."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from scheduling_factories import (
    CONSULTATION_ID,
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
    make_series_protocol,
    make_treatment,
    week,
)

from booking.scheduling import (
    Interval,
    Problem,
    check_aftercare,
    check_cancellation_cutoff,
    check_consultation,
    check_contraindicated,
    check_horizon,
    check_hours,
    check_in_past,
    check_intervals,
    check_min_notice,
    check_patient_busy,
    check_prep_window,
    check_resources,
    check_room_open,
    check_slot_taken,
)

START = local(2026, 3, 10, 10)  # Tue 10 Mar 10:00 in Rome
END = START + timedelta(hours=1)


def codes(problems: list[Problem]) -> list[str]:
    """Just the codes, in order."""
    return [p.code for p in problems]


# --- when -----------------------------------------------------------------------------------


def test_in_past():
    assert check_in_past(START, START) == []
    (problem,) = check_in_past(START, START + timedelta(seconds=1), session_index=2, tz=TZ)
    assert problem.code == "in_past" and problem.session_index == 2
    assert "Tue 10 Mar 10:00" in problem.message


def test_min_notice():
    policy = make_policy(min_notice_hours=24)
    assert check_min_notice(START, START - timedelta(hours=24), policy) == []
    (problem,) = check_min_notice(START, START - timedelta(hours=23), policy)
    assert problem.code == "min_notice"
    assert "24 hours' notice" in problem.message and "Tue 10 Mar 11:00" in problem.message


def test_horizon_counts_local_dates():
    policy = make_policy(horizon_days=8)
    assert check_horizon(local(2026, 3, 10, 23, 59), NOW, policy) == []  # 2 Mar + 8 days
    (problem,) = check_horizon(local(2026, 3, 11, 0, 0), NOW, policy, 1)
    assert problem.code == "beyond_horizon" and problem.session_index == 1
    assert "Tue 10 Mar" in problem.message


def test_prep_window_names_the_longest_step():
    protocol = make_protocol(
        prep=(make_prep(instruction="No retinol", lead_hours=48), make_prep(lead_hours=168))
    )
    assert check_prep_window(START, START - timedelta(days=7), protocol) == []
    assert check_prep_window(START, START, make_protocol()) == []
    (problem,) = check_prep_window(START, START - timedelta(days=6), protocol)
    assert problem.code == "prep_window"
    assert problem.message.startswith("Stop aspirin and NSAIDs needs 7 days before the session")


def test_cancellation_cutoff():
    policy = make_policy(cancel_cutoff_hours=24)
    assert check_cancellation_cutoff(START, START - timedelta(hours=24), policy) == []
    (problem,) = check_cancellation_cutoff(START, START - timedelta(hours=23), policy)
    assert problem.code == "cancellation_cutoff"
    assert "24 hours before" in problem.message and "Mon 9 Mar 10:00" in problem.message


# --- hours and closures ------------------------------------------------------------------------


def test_hours_pass_inside_working_time():
    assert check_hours(START, END, make_practitioner(), make_policy()) == []


@pytest.mark.parametrize(
    ("person", "policy", "words"),
    [
        (make_practitioner(hours=week(time(11), time(18))), make_policy(), "working hours"),
        (make_practitioner(hours=week(days=(0,))), make_policy(), "working hours"),
        (make_practitioner(breaks=week(time(10, 30), time(11))), make_policy(), "break"),
        (
            make_practitioner(
                time_off=(Interval(END - timedelta(minutes=1), END + timedelta(days=3)),)
            ),
            make_policy(),
            "away",
        ),
        (
            make_practitioner(),
            make_policy(
                closures=(Interval(START - timedelta(days=1), START + timedelta(minutes=1)),)
            ),
            "clinic is closed",
        ),
    ],
)
def test_outside_hours(person, policy, words):
    (problem,) = check_hours(START, END, person, policy, session_index=0)
    assert problem.code == "outside_hours" and problem.session_index == 0
    assert words in problem.message


@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK])
def test_hours_on_transition_days_are_wall_clock(day):
    person = make_practitioner()  # 09:00-18:00
    start = local(day.year, day.month, day.day, 9)
    assert check_hours(start, start + timedelta(hours=9), person, make_policy()) == []
    late = check_hours(start, start + timedelta(hours=9, minutes=1), person, make_policy())
    assert codes(late) == ["outside_hours"]


def test_an_appointment_may_span_a_period_that_runs_past_midnight():
    person = make_practitioner(hours=week(time(20), time(2)))
    start = local(2026, 3, 10, 23)
    assert check_hours(start, start + timedelta(hours=2), person, make_policy()) == []


def test_room_open():
    room = make_room(closures=(Interval(END, END + timedelta(hours=1)),))
    assert check_room_open(START, END, room) == []
    (problem,) = check_room_open(START, END + timedelta(minutes=1), room, 3, tz=TZ)
    assert problem.code == "outside_hours" and problem.session_index == 3
    assert "room" in problem.message and "Tue 10 Mar 10:00" in problem.message


# --- resources -------------------------------------------------------------------------------


def test_resources_pass():
    assert check_resources(make_treatment(), make_practitioner(), make_room()) == []
    assert check_resources(make_treatment(needs_room=False), make_practitioner(), None) == []


def test_wrong_practitioner():
    other = make_practitioner(treatment_ids=frozenset({99}))
    assert codes(check_resources(make_treatment(), other, make_room())) == ["wrong_practitioner"]
    assert codes(check_resources(make_treatment(), None, make_room())) == ["wrong_practitioner"]


def test_wrong_room():
    wrong = make_room(treatment_ids=frozenset({99}))
    assert codes(check_resources(make_treatment(), make_practitioner(), wrong)) == ["wrong_room"]
    assert codes(check_resources(make_treatment(), make_practitioner(), None)) == ["wrong_room"]


# --- diaries ---------------------------------------------------------------------------------


def test_slot_taken_passes_when_the_buffers_just_touch():
    existing = make_booked(start=END + timedelta(minutes=10), buffer_before_minutes=5)
    treatment = make_treatment(buffer_after_minutes=5)
    assert check_slot_taken(treatment, START, END, 1, 1, [existing]) == []


def test_slot_taken_by_buffers_of_either_side():
    treatment = make_treatment(buffer_after_minutes=6)
    existing = make_booked(start=END + timedelta(minutes=10), buffer_before_minutes=5)
    assert codes(check_slot_taken(treatment, START, END, 1, None, [existing])) == ["slot_taken"]
    mine_clean = make_booked(start=END, buffer_before_minutes=1, practitioner_id=2)
    (problem,) = check_slot_taken(make_treatment(), START, END, 1, 1, [mine_clean], tz=TZ)
    assert "room" in problem.message and "Tue 10 Mar 10:00" in problem.message


def test_slot_taken_reports_practitioner_and_room_separately():
    both = make_booked(start=START)
    problems = check_slot_taken(make_treatment(), START, END, 1, 1, [both], session_index=4)
    assert codes(problems) == ["slot_taken", "slot_taken"]
    assert {p.session_index for p in problems} == {4}


def test_slot_taken_ignores_other_resources_and_the_appointment_being_moved():
    elsewhere = make_booked(start=START, practitioner_id=2, room_id=2)
    moving = make_booked(start=START)
    assert check_slot_taken(make_treatment(), START, END, 1, 1, [elsewhere]) == []
    ignore = frozenset({moving.appointment_id})
    assert check_slot_taken(make_treatment(), START, END, 1, 1, [moving], ignore) == []


def test_patient_busy():
    mine = make_booked(
        patient_id=PATIENT_ID, practitioner_id=5, room_id=5, start=END - timedelta(minutes=1)
    )
    touching = make_booked(patient_id=PATIENT_ID, start=END, buffer_before_minutes=30)
    assert check_patient_busy(START, END, PATIENT_ID, [touching]) == []
    assert check_patient_busy(START, END, PATIENT_ID + 1, [mine]) == []
    assert check_patient_busy(START, END, None, [mine]) == []
    assert (
        check_patient_busy(START, END, PATIENT_ID, [mine], frozenset({mine.appointment_id})) == []
    )
    (problem,) = check_patient_busy(START, END, PATIENT_ID, [mine], session_index=1, tz=TZ)
    assert problem.code == "patient_busy" and "Tue 10 Mar 10:59" in problem.message


def aftercare_treatment(hours=48, area="face"):
    """A treatment with ``hours`` of aftercare on ``area``."""
    return make_treatment(body_area=area, protocol=make_protocol(aftercare_hours=hours))


def test_aftercare_passes_outside_both_windows_and_for_other_areas_or_patients():
    later = make_booked(patient_id=PATIENT_ID, start=END + timedelta(hours=48))
    assert check_aftercare(aftercare_treatment(), START, END, PATIENT_ID, [later]) == []
    soon = make_booked(patient_id=PATIENT_ID, start=END + timedelta(hours=2), body_area="scalp")
    assert check_aftercare(aftercare_treatment(), START, END, PATIENT_ID, [soon]) == []
    other_patient = make_booked(patient_id=7, start=END + timedelta(hours=2))
    assert check_aftercare(aftercare_treatment(), START, END, PATIENT_ID, [other_patient]) == []
    no_area = aftercare_treatment(area=None)
    assert (
        check_aftercare(
            no_area,
            START,
            END,
            PATIENT_ID,
            [make_booked(patient_id=PATIENT_ID, start=END, body_area=None)],
        )
        == []
    )


def test_aftercare_conflict_either_way():
    inside_mine = make_booked(patient_id=PATIENT_ID, start=END + timedelta(hours=47))
    (problem,) = check_aftercare(
        aftercare_treatment(), START, END, PATIENT_ID, [inside_mine], tz=TZ
    )
    assert problem.code == "aftercare_conflict" and "2 days aftercare of this" in problem.message
    before = make_booked(
        patient_id=PATIENT_ID, start=START - timedelta(hours=5), aftercare_hours=36
    )
    (problem,) = check_aftercare(
        aftercare_treatment(0), START, END, PATIENT_ID, [before], session_index=2
    )
    assert problem.session_index == 2 and "36 hours aftercare of your face" in problem.message
    moved = frozenset({before.appointment_id})
    assert check_aftercare(aftercare_treatment(0), START, END, PATIENT_ID, [before], moved) == []


def test_contraindicated():
    assert check_contraindicated(TREATMENT_ID, frozenset({99})) == []
    (problem,) = check_contraindicated(TREATMENT_ID, frozenset({TREATMENT_ID}), 0)
    assert problem.code == "contraindicated" and problem.session_index == 0


# --- protocol --------------------------------------------------------------------------------


def consult_treatment(**protocol):
    """A treatment needing a consultation at least 2 days before and at most 30 days old."""
    values = dict(
        consultation_treatment_id=CONSULTATION_ID,
        consultation_min_days_before=2,
        consultation_valid_days=30,
    )
    values.update(protocol)
    return make_treatment(protocol=make_protocol(**values))


def test_consultation_not_required_without_a_consultation_treatment():
    assert check_consultation(make_treatment(), START, [], TZ) == []


def test_consultation_passes_when_old_enough_and_still_valid():
    # Sun 8 Mar 23:30 local is 2 calendar days before Tue 10 Mar, though under 48 hours.
    assert check_consultation(consult_treatment(), START, [local(2026, 3, 8, 23, 30)], TZ) == []
    assert check_consultation(consult_treatment(), START, [START - timedelta(days=30)], TZ) == []


@pytest.mark.parametrize(
    ("consultations", "words"),
    [
        ([], "needs a consultation first"),
        ([local(2026, 3, 9, 8)], "from Wed 11 Mar"),  # only one day before
        ([START - timedelta(days=30, minutes=1)], "more than 30 days old"),
        ([START + timedelta(days=1)], "needs a consultation first"),  # after the session
    ],
)
def test_consultation_required(consultations, words):
    (problem,) = check_consultation(consult_treatment(), START, consultations, TZ, 0)
    assert problem.code == "consultation_required" and problem.session_index == 0
    assert words in problem.message


def test_intervals_pass_inside_the_window():
    starts = [START, START + timedelta(days=5), START + timedelta(days=15)]
    assert check_intervals(starts, make_series_protocol(), TZ) == []


def test_intervals_too_short_and_too_long_on_the_later_session():
    starts = [START, START + timedelta(days=4), START + timedelta(days=15)]
    problems = check_intervals(starts, make_series_protocol(), TZ, first_index=2)
    assert [(p.code, p.session_index) for p in problems] == [
        ("interval_too_short", 3),
        ("interval_too_long", 4),
    ]
    assert problems[0].message.startswith("Session 4 on Sat 14 Mar would be 4 days after session 3")


def test_intervals_unbounded_protocol_never_complains():
    assert check_intervals([START, START + timedelta(days=400)], make_protocol(), TZ) == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (date(2026, 3, 22), SPRING_FORWARD),  # 7 days but 167 hours
        (date(2026, 10, 18), FALL_BACK),  # 7 days but 169 hours
    ],
)
def test_intervals_count_calendar_days_across_transitions(before, after):
    exactly_a_week = make_series_protocol(
        interval_min_days=7, interval_target_days=7, interval_max_days=7
    )
    starts = [
        local(before.year, before.month, before.day, 10),
        local(after.year, after.month, after.day, 10),
    ]
    assert starts[1] - starts[0] != timedelta(days=7)
    assert check_intervals(starts, exactly_a_week, TZ) == []


def test_late_night_sessions_count_local_dates_not_24_hour_blocks():
    protocol = make_series_protocol(interval_min_days=1, interval_max_days=1)
    starts = [local(2026, 3, 10, 23, 30), local(2026, 3, 11, 8)]  # 8.5 hours, next day
    assert check_intervals(starts, protocol, TZ) == []
