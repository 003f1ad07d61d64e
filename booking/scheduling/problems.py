"""Problem codes and the wording of problem messages.

Codes are the stable contract with the API, forms and tests; messages are for people, so
times are shown on the clinic's wall clock ("Tue 10 Mar 10:00") and say what to do next.
Day and month names are spelled here rather than with ``strftime`` so the text does not
depend on the server's locale.
"""

from __future__ import annotations

from datetime import date, datetime

from .clock import to_local

OUTSIDE_HOURS = "outside_hours"
SLOT_TAKEN = "slot_taken"
PATIENT_BUSY = "patient_busy"
IN_PAST = "in_past"
MIN_NOTICE = "min_notice"
BEYOND_HORIZON = "beyond_horizon"
PREP_WINDOW = "prep_window"
CONSULTATION_REQUIRED = "consultation_required"
INTERVAL_TOO_SHORT = "interval_too_short"
INTERVAL_TOO_LONG = "interval_too_long"
AFTERCARE_CONFLICT = "aftercare_conflict"
CONTRAINDICATED = "contraindicated"
CANCELLATION_CUTOFF = "cancellation_cutoff"
WRONG_PRACTITIONER = "wrong_practitioner"
WRONG_ROOM = "wrong_room"
INTAKE_REQUIRED = "intake_required"
# Not a time rule: a session past a prepaid course's sessions or expiry (services.course).
COURSE_EXCEEDED = "course_exceeded"

ALL_CODES = frozenset(
    {
        OUTSIDE_HOURS,
        SLOT_TAKEN,
        PATIENT_BUSY,
        IN_PAST,
        MIN_NOTICE,
        BEYOND_HORIZON,
        PREP_WINDOW,
        CONSULTATION_REQUIRED,
        INTERVAL_TOO_SHORT,
        INTERVAL_TOO_LONG,
        AFTERCARE_CONFLICT,
        CONTRAINDICATED,
        CANCELLATION_CUTOFF,
        WRONG_PRACTITIONER,
        WRONG_ROOM,
        INTAKE_REQUIRED,
        COURSE_EXCEEDED,
    }
)

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_label(day: date) -> str:
    """A date as people read it: ``Tue 10 Mar``."""
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]}"


def moment_label(moment: datetime, tz: str) -> str:
    """An aware moment on the clinic's wall clock: ``Tue 10 Mar 10:00``."""
    local = to_local(moment, tz)
    return f"{day_label(local.date())} {local:%H:%M}"


def at_label(moment: datetime, tz: str | None) -> str:
    """`` at Tue 10 Mar 10:00`` when the zone is known, else nothing (for message tails)."""
    return f" at {moment_label(moment, tz)}" if tz else ""


def lead_label(hours: int) -> str:
    """A lead time in whole days when it is one (``7 days``), else in hours."""
    if hours and hours % 24 == 0:
        days = hours // 24
        return f"{days} day" if days == 1 else f"{days} days"
    return hours_label(hours)


def hours_label(hours: int) -> str:
    """``1 hour`` or ``N hours``: notice and cut-offs read best in hours."""
    return f"{hours} hour" if hours == 1 else f"{hours} hours"


def days_label(days: int) -> str:
    """``1 day`` or ``N days``."""
    return f"{days} day" if days == 1 else f"{days} days"


def session_label(index: int | None) -> str:
    """``Session 3`` for index 2 (people count from one), ``This session`` with no index."""
    return "This session" if index is None else f"Session {index + 1}"
