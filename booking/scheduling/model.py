"""Plain values the scheduling rules work on.

Everything here is a frozen dataclass of aware datetimes (UTC), dates, times and ids, so the
rules can be tested with no application, no database and no fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import NamedTuple

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span of time ``[start, end)`` between two aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Interval needs aware datetimes")
        if self.end < self.start:
            raise ValueError("Interval ends before it starts")

    def overlaps(self, other: Interval) -> bool:
        """True when the two spans share any moment (touching ends do not overlap)."""
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        """True when ``other`` lies wholly inside this span."""
        return self.start <= other.start and other.end <= self.end

    @property
    def duration_seconds(self) -> float:
        """Length of the span in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class LocalPeriod:
    """A wall-clock period on one weekday (0 = Monday) in the clinic's time zone."""

    weekday: int
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class DateException:
    """Working periods that replace the weekly hours on one date; no periods = day off."""

    day: date
    periods: tuple[tuple[time, time], ...] = ()


@dataclass(frozen=True, slots=True)
class PractitionerSchedule:
    """When one practitioner works and what they give."""

    practitioner_id: int
    treatment_ids: frozenset[int]
    hours: tuple[LocalPeriod, ...]
    breaks: tuple[LocalPeriod, ...] = ()
    exceptions: tuple[DateException, ...] = ()
    time_off: tuple[Interval, ...] = ()


@dataclass(frozen=True, slots=True)
class RoomSchedule:
    """A room, the treatments it serves, and when it is closed."""

    room_id: int
    treatment_ids: frozenset[int]
    closures: tuple[Interval, ...] = ()


@dataclass(frozen=True, slots=True)
class PrepStep:
    """Something the patient must do ``lead_hours`` before a session."""

    instruction: str
    lead_hours: int
    remind: bool = True
    # The instruction in languages besides the clinic's default: (language, text) pairs.
    translations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Protocol:
    """How a treatment is given in a series; intervals in days."""

    sessions: int = 1
    interval_min_days: int | None = None
    interval_target_days: int | None = None
    interval_max_days: int | None = None
    consultation_treatment_id: int | None = None
    consultation_min_days_before: int = 0
    consultation_valid_days: int = 180
    aftercare_hours: int = 0
    prep: tuple[PrepStep, ...] = ()

    @property
    def longest_prep_hours(self) -> int:
        """The longest prep lead time, 0 when there is no prep."""
        return max((step.lead_hours for step in self.prep), default=0)


@dataclass(frozen=True, slots=True)
class TreatmentSpec:
    """A bookable treatment and its protocol."""

    treatment_id: int
    kind: str  # "consultation" or "treatment"
    body_area: str | None
    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    needs_room: bool = True
    protocol: Protocol = field(default_factory=Protocol)


@dataclass(frozen=True, slots=True)
class ClinicPolicy:
    """Clinic-wide settings the rules need."""

    timezone: str = "Europe/Rome"
    slot_step_minutes: int = 15
    min_notice_hours: int = 24
    horizon_days: int = 180
    cancel_cutoff_hours: int = 24
    closures: tuple[Interval, ...] = ()


class BookedAppointment(NamedTuple):
    """An existing active appointment, as the rules see it (times in UTC, buffers apart).

    A named tuple: a plan or an availability answer reads hundreds, and a tuple is the
    cheapest immutable value to make.
    """

    appointment_id: int
    patient_id: int
    practitioner_id: int
    room_id: int | None
    treatment_id: int
    body_area: str | None
    start: datetime
    end: datetime
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    aftercare_hours: int = 0
    kind: str = "treatment"


class Slot(NamedTuple):
    """A free start time for a treatment with a practitioner (and a room when it needs one).

    A named tuple rather than a dataclass: an answer holds thousands and a tuple is the
    cheapest immutable value to make.
    """

    start: datetime
    end: datetime
    practitioner_id: int
    room_id: int | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a booking is not allowed as asked; ``code`` is a stable string."""

    code: str
    message: str
    session_index: int | None = None


@dataclass(frozen=True, slots=True)
class ProposedSession:
    """One session a caller wants to book: when, with whom, where, and its place in a series."""

    start: datetime
    practitioner_id: int
    room_id: int | None = None
    index: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """A session the series planner placed (or could not place, with alternatives to offer)."""

    index: int
    start: datetime
    end: datetime
    practitioner_id: int | None
    room_id: int | None
    placed: bool
    alternatives: tuple[Slot, ...] = ()


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """The planner's answer: every session in order, and the problems found on the way."""

    sessions: tuple[PlannedSession, ...]
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every session could be placed with no problem."""
        return not self.problems
