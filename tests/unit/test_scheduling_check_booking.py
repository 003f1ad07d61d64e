"""check_booking (every rule for a whole request) and partition_problems (who may override)."""

from __future__ import annotations

from datetime import timedelta

from scheduling_factories import (
    CONSULTATION_ID,
    NOW,
    PATIENT_ID,
    TREATMENT_ID,
    local,
    make_booked,
    make_policy,
    make_practitioner,
    make_prep,
    make_room,
    make_series_protocol,
    make_treatment,
)

from booking.scheduling import (
    ALL_CODES,
    CONFLICT_CODES,
    OVERRIDABLE,
    PRACTITIONER_ONLY,
    Problem,
    ProposedSession,
    check_booking,
    partition_problems,
)

START = local(2026, 3, 10, 10)


def check(sessions, *, treatment=None, booked=(), **overrides):
    """check_booking with one practitioner (1), one room (1) and the default policy."""
    values = dict(
        patient_id=PATIENT_ID,
        practitioners={1: make_practitioner(), 2: make_practitioner(practitioner_id=2)},
        rooms={1: make_room(), 2: make_room(room_id=2)},
        booked=list(booked),
        policy=make_policy(),
        now=NOW,
    )
    values.update(overrides)
    return check_booking(treatment or make_treatment(), sessions, **values)


def pairs(problems):
    """(code, session_index) of each problem, in order."""
    return [(p.code, p.session_index) for p in problems]


def test_a_good_booking_has_no_problems():
    assert check([ProposedSession(START, 1, 1, None)]) == []


def test_every_rule_runs_for_a_session():
    treatment = make_treatment(
        protocol=make_series_protocol(
            consultation_treatment_id=CONSULTATION_ID,
            aftercare_hours=48,
            prep=(make_prep(),),
        )
    )
    start = local(2026, 3, 3, 7, 45)  # Tuesday 07:45: before hours, under a day's notice
    booked = [
        make_booked(start=start, practitioner_id=2, room_id=1),
        make_booked(start=start + timedelta(minutes=30), patient_id=PATIENT_ID, room_id=2),
        make_booked(
            start=start + timedelta(hours=3), patient_id=PATIENT_ID, practitioner_id=2, room_id=2
        ),
    ]
    problems = check(
        [ProposedSession(start, 1, 1, 0)],
        treatment=treatment,
        booked=booked,
        contraindicated_ids=frozenset({TREATMENT_ID}),
        now=NOW,
    )
    assert set(pairs(problems)) == {
        ("min_notice", 0),
        ("prep_window", 0),
        ("outside_hours", 0),
        ("slot_taken", 0),
        ("patient_busy", 0),
        ("aftercare_conflict", 0),
        ("contraindicated", 0),
        ("consultation_required", 0),
    }
    assert len(problems) == len(set(problems))


def test_a_start_in_the_past_does_not_also_complain_about_notice_or_prep():
    treatment = make_treatment(protocol=make_series_protocol(prep=(make_prep(),)))
    problems = check([ProposedSession(NOW - timedelta(days=1), 1, 1, None)], treatment=treatment)
    assert "in_past" in [p.code for p in problems]
    assert not {"min_notice", "prep_window"} & {p.code for p in problems}


def test_horizon_and_wrong_resources():
    far = NOW + timedelta(days=200)
    problems = check(
        [ProposedSession(far, 1, 9, None)],
        practitioners={1: make_practitioner(treatment_ids=frozenset())},
    )
    assert ("beyond_horizon", None) in pairs(problems)
    assert ("wrong_practitioner", None) in pairs(problems)
    assert ("wrong_room", None) in pairs(problems)
    unknown = check([ProposedSession(START, 42, None, None)])
    assert pairs(unknown) == [("wrong_practitioner", None), ("wrong_room", None)]


def test_a_closed_room_is_outside_hours():
    from booking.scheduling import Interval

    rooms = {1: make_room(closures=(Interval(START, START + timedelta(minutes=5)),))}
    assert pairs(check([ProposedSession(START, 1, 1, None)], rooms=rooms)) == [
        ("outside_hours", None)
    ]


def test_sessions_of_one_request_collide_with_each_other():
    problems = check([ProposedSession(START, 1, 1, 0), ProposedSession(START, 1, 1, 1)])
    assert set(pairs(problems)) == {("slot_taken", 1), ("patient_busy", 1)}


def test_moving_an_appointment_ignores_its_old_place():
    old = make_booked(start=START, patient_id=PATIENT_ID)
    session = ProposedSession(START + timedelta(minutes=30), 1, 1, None)
    assert check([session], booked=[old]) != []
    assert check([session], booked=[old], ignore_ids=frozenset({old.appointment_id})) == []


def test_consultation_only_for_the_first_session_of_a_series():
    treatment = make_treatment(
        protocol=make_series_protocol(consultation_treatment_id=CONSULTATION_ID)
    )
    first = check([ProposedSession(START, 1, 1, 0)], treatment=treatment)
    single = check([ProposedSession(START, 1, 1, None)], treatment=treatment)
    later = check([ProposedSession(START, 1, 1, 2)], treatment=treatment)
    assert pairs(first) == [("consultation_required", 0)]
    assert pairs(single) == [("consultation_required", None)]
    assert later == []
    consulted = check(
        [ProposedSession(START, 1, 1, 0)],
        treatment=treatment,
        consultation_starts=[START - timedelta(days=3)],
    )
    assert consulted == []


def test_intervals_between_the_sessions_in_index_order():
    treatment = make_treatment(protocol=make_series_protocol())
    sessions = [
        ProposedSession(START + timedelta(days=14), 1, 1, 2),  # given out of order
        ProposedSession(START, 1, 1, 0),
        ProposedSession(START + timedelta(days=3), 1, 1, 1),
    ]
    problems = check(sessions, treatment=treatment)
    assert pairs(problems) == [("interval_too_short", 1), ("interval_too_long", 2)]


def test_a_reschedule_is_checked_against_its_neighbours():
    treatment = make_treatment(protocol=make_series_protocol())
    session = [ProposedSession(START, 1, 1, 2)]
    fine = check(
        session,
        treatment=treatment,
        neighbours_before=START - timedelta(days=7),
        neighbours_after=START + timedelta(days=7),
    )
    assert fine == []
    squeezed = check(
        session,
        treatment=treatment,
        neighbours_before=START - timedelta(days=2),
        neighbours_after=START + timedelta(days=12),
    )
    assert pairs(squeezed) == [("interval_too_short", 2), ("interval_too_long", 3)]
    assert squeezed[0].message.startswith("Session 3 on Tue 10 Mar would be 2 days after session 2")


def test_problems_are_deduplicated_and_in_session_order():
    treatment = make_treatment(protocol=make_series_protocol(interval_min_days=0))
    late = NOW + timedelta(days=300)
    problems = check(
        [ProposedSession(late, 1, 1, 0), ProposedSession(late + timedelta(days=7), 1, 1, 1)],
        treatment=treatment,
        contraindicated_ids=frozenset({TREATMENT_ID}),
    )
    assert [p.session_index for p in problems] == sorted(p.session_index for p in problems)
    assert len(problems) == len(set(problems))
    assert ("contraindicated", 0) in pairs(problems) and ("contraindicated", 1) in pairs(problems)


def test_override_constants():
    assert ALL_CODES - OVERRIDABLE == {
        "slot_taken",
        "patient_busy",
        "in_past",
        "wrong_practitioner",
        "wrong_room",
    }
    assert PRACTITIONER_ONLY == {"contraindicated"} and PRACTITIONER_ONLY <= OVERRIDABLE
    assert CONFLICT_CODES == {"slot_taken", "patient_busy"}
    assert len(ALL_CODES) == 17


PROBLEMS = [
    Problem("min_notice", "soon", 0),
    Problem("contraindicated", "intake", 0),
    Problem("slot_taken", "taken", 1),
    Problem("cancellation_cutoff", "late", None),
]


def test_a_patient_overrides_nothing():
    assert partition_problems(PROBLEMS, staff=False, is_practitioner=False) == ([], PROBLEMS)


def test_a_receptionist_overrides_all_but_conflicts_and_clinical_clearance():
    overridable, blocking = partition_problems(PROBLEMS, staff=True, is_practitioner=False)
    assert [p.code for p in overridable] == ["min_notice", "cancellation_cutoff"]
    assert [p.code for p in blocking] == ["contraindicated", "slot_taken"]


def test_a_practitioner_may_also_clear_a_contraindication():
    overridable, blocking = partition_problems(PROBLEMS, staff=True, is_practitioner=True)
    assert [p.code for p in overridable] == ["min_notice", "contraindicated", "cancellation_cutoff"]
    assert [p.code for p in blocking] == ["slot_taken"]
