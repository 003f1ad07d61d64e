"""Problem codes and the wording of problem messages.

Codes are the stable contract with the API, forms and tests; messages are for people, so
times are shown on the clinic's wall clock ("Tue 10 Mar 10:00") and say what to do next.
Messages are :class:`~booking.scheduling.text.Text` values: English as ``str``, said in the
reader's language by the boundary (``booking.i18n.translate``); dates and times in them are
``Day`` and ``Moment`` values, which the boundary formats in that language.
"""

from __future__ import annotations

from datetime import date, datetime

from .text import Day, Moment, N_, Np_, Text

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


def day_label(day: date) -> Day:
    """A date as people read it: ``Tue 10 Mar`` (in the reader's language at the boundary)."""
    return Day(day)


def moment_label(moment: datetime, tz: str) -> Moment:
    """An aware moment on the clinic's wall clock: ``Tue 10 Mar 10:00``."""
    return Moment(moment, tz)


def lead_label(hours: int) -> Text:
    """A lead time in whole days when it is one (``7 days``), else in hours."""
    if hours and hours % 24 == 0:
        return days_label(hours // 24)
    return hours_label(hours)


def hours_label(hours: int) -> Text:
    """``1 hour`` or ``N hours``: notice and cut-offs read best in hours."""
    return Np_("%(num)d hour", "%(num)d hours", hours)


def days_label(days: int) -> Text:
    """``1 day`` or ``N days``."""
    return Np_("%(num)d day", "%(num)d days", days)


def session_label(index: int | None) -> Text:
    """``Session 3`` for index 2 (people count from one), ``This session`` with no index."""
    return N_("This session") if index is None else N_("Session %(number)d", number=index + 1)
