"""The course of treatment after booking, as pure rules (issue 14): when a session's prep is
asked about and when reception must call, what a prep answer means, which aftercare still
applies, when maintenance is due, and how a prepaid course is counted.

No Flask, no database: the services load the rows and ask these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from .clock import to_local
from .text import Day, N_, Text

DONE, NOT_DONE = "done", "not_done"
ANSWERS = (DONE, NOT_DONE)


@dataclass(frozen=True, slots=True)
class AftercareStep:
    """Something to avoid for ``hours`` after a session ("No sauna or swimming", 48)."""

    instruction: str
    hours: int


@dataclass(frozen=True, slots=True)
class PrepAsk:
    """When a session's prep confirmation is asked for, and by when an answer must come."""

    ask_at: datetime
    answer_by: datetime


def prep_ask(start: datetime, confirm_hours: int | None, answer_by_hours: int) -> PrepAsk | None:
    """The confirmation times of a session starting at ``start``; None when the protocol asks none.

    The answer is due ``answer_by_hours`` before the start, never before the question is asked.
    """
    if confirm_hours is None:
        return None
    ask_at = start - timedelta(hours=confirm_hours)
    answer_by = max(ask_at, start - timedelta(hours=answer_by_hours))
    return PrepAsk(ask_at, answer_by)


def step_key(rule_id: int) -> str:
    """The stable key of a prep step in a checklist (the API's ``steps[].key``)."""
    return f"prep-{rule_id}"


def prep_status(answers: Mapping[str, str], keys: Iterable[str]) -> str:
    """"prepared" when every step is done, "needs_attention" when any is not, else "pending"."""
    keys = list(keys)
    if any(answers.get(k) == NOT_DONE for k in keys):
        return "needs_attention"
    if keys and all(answers.get(k) == DONE for k in keys):
        return "prepared"
    return "pending"


def bad_answers(answers: Mapping[str, object], keys: Iterable[str]) -> list[Text]:
    """What is wrong with a checklist answer: unknown steps, missing steps, values other than
    "done"/"not_done"; empty when it can be recorded."""
    keys = set(keys)
    problems = [N_("%(key)s is not a step of this session", key=k) for k in sorted(set(answers) - keys)]
    problems += [N_("%(key)s has no answer", key=k) for k in sorted(keys - set(answers))]
    problems += [N_("%(key)s: answer 'done' or 'not_done'", key=k) for k, v in sorted(answers.items())
                 if k in keys and v not in ANSWERS]
    return problems


def aftercare_applying(session_end: datetime, steps: Sequence[AftercareStep],
                       now: datetime) -> list[tuple[AftercareStep, datetime]]:
    """The aftercare steps still in force at ``now`` after a session that ended at
    ``session_end``, each with the moment it ends, soonest first."""
    active = [(step, session_end + timedelta(hours=step.hours)) for step in steps]
    return sorted([(s, until) for s, until in active if session_end <= now < until], key=lambda p: p[1])


def aftercare_days(session_end: datetime, step: AftercareStep, tz: str) -> tuple[date, date]:
    """The local days an aftercare step covers: from the session's day to the day it ends
    (inclusive), for all-day calendar events."""
    until = session_end + timedelta(hours=step.hours)
    last = to_local(until - timedelta(microseconds=1), tz).date()
    return to_local(session_end, tz).date(), last


def maintenance_due(last_session_start: datetime, interval_days: int, tz: str) -> date:
    """The local date maintenance is due: ``interval_days`` after the series' last session."""
    return to_local(last_session_start, tz).date() + timedelta(days=interval_days)


def recall_standing(status: str, due_on: date, today: date, *, due_from_days: int = 14) -> str:
    """How a recall reads on reception's list: booked and declined as they are; otherwise
    "overdue" once its date has passed, "due" from ``due_from_days`` before it (when the patient
    is invited), "upcoming" before that."""
    if status in ("booked", "declined"):
        return status
    if today > due_on:
        return "overdue"
    if today >= due_on - timedelta(days=due_from_days):
        return "due"
    return "upcoming"


class CourseCount(NamedTuple):
    """A prepaid course: sessions bought, used (completed or missed), booked ahead, left to
    book, and whether it has expired."""

    total: int
    used: int
    booked: int
    remaining: int
    expired: bool

    @property
    def exhausted(self) -> bool:
        """No session left to book."""
        return self.remaining <= 0


# A missed session (no-show) uses up a prepaid session, as a late cancellation would; a
# cancelled one gives it back.
USES_A_SESSION = ("completed", "no_show")
HOLDS_A_SESSION = ("booked", "checked_in")


def course_count(total: int, statuses: Iterable[str], expires_on: date | None, today: date) -> CourseCount:
    """Count a prepaid course of ``total`` sessions from its appointments' statuses."""
    statuses = list(statuses)
    used = sum(s in USES_A_SESSION for s in statuses)
    booked = sum(s in HOLDS_A_SESSION for s in statuses)
    expired = expires_on is not None and today > expires_on
    return CourseCount(total, used, booked, max(0, total - used - booked), expired)


def course_warning(count: CourseCount | None, adding: int, on: date, expires_on: date | None) -> Text | None:
    """Why booking ``adding`` more sessions (the last on ``on``) goes past a prepaid course, or None."""
    if count is None:
        return None
    if adding > count.remaining:
        return N_("The prepaid course has %(left)d of %(total)d sessions left to book; this books %(adding)d.",
                  left=count.remaining, total=count.total, adding=adding)
    if expires_on is not None and on > expires_on:
        return N_("The prepaid course expires on %(day)s; this session is after that.",
                  day=Day(expires_on, "date"))
    return None


SESSION_STATES = ("booked", "prepared", "needs_attention", "checked_in", "done", "missed", "cancelled")


def session_state(status: str, prep: str | None) -> str:
    """A session's state on the course view: its appointment status, with a booked session's
    prep answer ("prepared" or "needs_attention") when there is one."""
    if status == "booked" and prep in ("prepared", "needs_attention"):
        return prep
    return {"completed": "done", "no_show": "missed"}.get(status, status)
