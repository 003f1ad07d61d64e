"""The course rules (issue 14) as pure functions: prep confirmation times and answers,
aftercare in force, maintenance dates, recall standing and prepaid course counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from booking.scheduling.course import (
    AftercareStep,
    aftercare_applying,
    aftercare_days,
    bad_answers,
    course_count,
    course_warning,
    maintenance_due,
    prep_ask,
    prep_status,
    recall_standing,
    session_state,
)

START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 10:00 in Rome


def test_prep_is_asked_at_the_protocols_hours_and_answered_by_its_deadline():
    ask = prep_ask(START, 72, 24)
    assert ask.ask_at == START - timedelta(hours=72) and ask.answer_by == START - timedelta(hours=24)
    assert prep_ask(START, None, 24) is None
    # An answer is never due before the question is asked.
    assert prep_ask(START, 12, 24).answer_by == START - timedelta(hours=12)


def test_a_checklist_is_prepared_only_when_every_step_is_done():
    keys = ["prep-1", "prep-2"]
    assert prep_status({}, keys) == "pending"
    assert prep_status({"prep-1": "done"}, keys) == "pending"
    assert prep_status({"prep-1": "done", "prep-2": "done"}, keys) == "prepared"
    assert prep_status({"prep-1": "done", "prep-2": "not_done"}, keys) == "needs_attention"
    assert prep_status({"prep-1": "not_done"}, keys) == "needs_attention"


def test_bad_answers_name_unknown_missing_and_wrong_values():
    problems = bad_answers({"prep-1": "maybe", "prep-9": "done"}, ["prep-1", "prep-2"])
    assert problems == ["prep-9 is not a step of this session", "prep-2 has no answer",
                        "prep-1: answer 'done' or 'not_done'"]
    assert bad_answers({"prep-1": "done", "prep-2": "not_done"}, ["prep-1", "prep-2"]) == []


def test_aftercare_applies_from_the_end_of_the_session_until_each_step_ends():
    end = START + timedelta(minutes=30)
    steps = [AftercareStep("No make-up", 12), AftercareStep("No sauna", 48)]
    assert [s.instruction for s, _ in aftercare_applying(end, steps, end + timedelta(hours=1))] == ["No make-up", "No sauna"]
    assert [s.instruction for s, _ in aftercare_applying(end, steps, end + timedelta(hours=12))] == ["No sauna"]
    assert aftercare_applying(end, steps, end + timedelta(hours=48)) == []
    assert aftercare_applying(end, steps, end - timedelta(minutes=1)) == []  # not before the session


def test_aftercare_days_cover_the_local_days_until_it_ends():
    end = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # 22:30 in Rome
    assert aftercare_days(end, AftercareStep("No sauna", 2), "Europe/Rome") == (date(2026, 3, 10), date(2026, 3, 11))
    assert aftercare_days(end, AftercareStep("No sauna", 1), "Europe/Rome") == (date(2026, 3, 10), date(2026, 3, 10))


def test_maintenance_is_due_on_the_local_date_of_the_last_session_plus_the_interval():
    late = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # already 11 March in Rome
    assert maintenance_due(late, 90, "Europe/Rome") == date(2026, 3, 11) + timedelta(days=90)


def test_recall_standing():
    due = date(2026, 6, 1)
    assert recall_standing("due", due, date(2026, 5, 1)) == "upcoming"
    assert recall_standing("invited", due, date(2026, 5, 20)) == "due"
    assert recall_standing("reminded", due, date(2026, 6, 2)) == "overdue"
    assert recall_standing("booked", due, date(2026, 7, 1)) == "booked"
    assert recall_standing("declined", due, date(2026, 7, 1)) == "declined"


def test_session_states_on_the_course_view():
    assert session_state("booked", None) == "booked"
    assert session_state("booked", "prepared") == "prepared"
    assert session_state("booked", "needs_attention") == "needs_attention"
    assert session_state("completed", "prepared") == "done"
    assert session_state("no_show", None) == "missed"
    assert session_state("cancelled", "prepared") == "cancelled"


STATUSES = st.sampled_from(["booked", "checked_in", "completed", "cancelled", "no_show"])


@given(total=st.integers(1, 12), statuses=st.lists(STATUSES, max_size=20))
def test_a_course_never_counts_a_cancelled_session_and_its_parts_add_up(total, statuses):
    count = course_count(total, statuses, None, date(2026, 1, 1))
    assert count.used == statuses.count("completed") + statuses.count("no_show")
    assert count.booked == statuses.count("booked") + statuses.count("checked_in")
    assert count.remaining == max(0, total - count.used - count.booked)
    # Cancelling a session gives it back; it never takes one.
    more = course_count(total, [*statuses, "cancelled"], None, date(2026, 1, 1))
    assert more == count


def test_course_warnings_past_the_sessions_or_the_expiry():
    count = course_count(4, ["completed", "completed", "booked"], date(2026, 6, 30), date(2026, 5, 1))
    assert course_warning(count, 1, date(2026, 6, 1), date(2026, 6, 30)) is None
    assert "1 of 4" in course_warning(count, 2, date(2026, 6, 1), date(2026, 6, 30))
    assert "expires on 30 Jun 2026" in course_warning(count, 1, date(2026, 7, 1), date(2026, 6, 30))
    assert course_warning(None, 5, date(2027, 1, 1), None) is None
    assert course_count(4, [], date(2026, 6, 30), date(2026, 7, 1)).expired
