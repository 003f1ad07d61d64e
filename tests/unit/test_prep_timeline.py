"""The prep timeline puts each step on the right local day before each session."""

from __future__ import annotations

from datetime import UTC, date, datetime

from booking.scheduling.model import PrepStep
from booking.scheduling.prep import prep_timeline

STEPS = (PrepStep("Stop aspirin and NSAIDs", 7 * 24), PrepStep("No alcohol", 24))


def test_timeline_orders_steps_and_sessions_in_local_days():
    first = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 10:00 in Rome
    second = datetime(2026, 3, 24, 9, 0, tzinfo=UTC)
    timeline = prep_timeline([first, second], STEPS, "Europe/Rome")
    assert [(e.day, e.kind, e.text) for e in timeline] == [
        (date(2026, 3, 3), "prep", "Stop aspirin and NSAIDs"),
        (date(2026, 3, 9), "prep", "No alcohol"),
        (date(2026, 3, 10), "session", "Session 1"),
        (date(2026, 3, 17), "prep", "Stop aspirin and NSAIDs"),
        (date(2026, 3, 23), "prep", "No alcohol"),
        (date(2026, 3, 24), "session", "Session 2"),
    ]
    assert [e.session_index for e in timeline] == [0, 0, 0, 1, 1, 1]


def test_a_step_due_late_at_night_utc_lands_on_the_next_local_day():
    start = datetime(2026, 7, 10, 22, 30, tzinfo=UTC)  # 00:30 on 11 July in Rome
    timeline = prep_timeline([start], (PrepStep("No alcohol", 24),), "Europe/Rome")
    assert [(e.day, e.text) for e in timeline] == [(date(2026, 7, 10), "No alcohol"), (date(2026, 7, 11), "Session")]
