"""Checks about *when*: past, notice, horizon, prep lead, cancel cut-off, opening hours.

Each returns a list of :class:`Problem` (empty = allowed). ``tz``, where a check takes it
only for wording, puts the clinic's wall-clock time into the message.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .clock import ONE_DAY, day_periods, local_date, working_intervals
from .intervals import merge, subtract
from .model import (
    ClinicPolicy,
    Interval,
    PractitionerSchedule,
    Problem,
    Protocol,
    RoomSchedule,
)
from .problems import (
    BEYOND_HORIZON,
    CANCELLATION_CUTOFF,
    IN_PAST,
    MIN_NOTICE,
    OUTSIDE_HOURS,
    PREP_WINDOW,
    at_label,
    day_label,
    hours_label,
    lead_label,
    moment_label,
)


def check_in_past(
    start: datetime, now: datetime, session_index: int | None = None, *, tz: str | None = None
) -> list[Problem]:
    """``in_past`` when the appointment would start before now."""
    if start >= now:
        return []
    message = f"That time{at_label(start, tz)} has already passed; choose a time in the future."
    return [Problem(IN_PAST, message, session_index)]


def check_min_notice(
    start: datetime, now: datetime, policy: ClinicPolicy, session_index: int | None = None
) -> list[Problem]:
    """``min_notice`` when the start is sooner than the clinic's minimum notice."""
    earliest = now + timedelta(hours=policy.min_notice_hours)
    if start >= earliest:
        return []
    message = (
        f"Bookings need at least {hours_label(policy.min_notice_hours)}' notice; "
        f"the earliest time you can choose now is {moment_label(earliest, policy.timezone)}."
    )
    return [Problem(MIN_NOTICE, message, session_index)]


def check_horizon(
    start: datetime, now: datetime, policy: ClinicPolicy, session_index: int | None = None
) -> list[Problem]:
    """``beyond_horizon`` when the start's local date is past today + the booking horizon."""
    tz = policy.timezone
    last_day = local_date(now, tz) + timedelta(days=policy.horizon_days)
    if local_date(start, tz) <= last_day:
        return []
    message = (
        f"Bookings open {policy.horizon_days} days ahead; choose a date up to "
        f"{day_label(last_day)}."
    )
    return [Problem(BEYOND_HORIZON, message, session_index)]


def check_prep_window(
    start: datetime,
    now: datetime,
    protocol: Protocol,
    session_index: int | None = None,
    *,
    tz: str | None = None,
) -> list[Problem]:
    """``prep_window`` when there is less time before the start than the longest prep lead."""
    if not protocol.prep:
        return []
    longest = max(protocol.prep, key=lambda step: step.lead_hours)
    ready = now + timedelta(hours=longest.lead_hours)
    if ready <= start:
        return []
    advice = f"choose a time from {moment_label(ready, tz)}" if tz else "choose a later time"
    message = (
        f"{longest.instruction} needs {lead_label(longest.lead_hours)} before the session; "
        f"{advice}."
    )
    return [Problem(PREP_WINDOW, message, session_index)]


def check_cancellation_cutoff(
    start: datetime, now: datetime, policy: ClinicPolicy, session_index: int | None = None
) -> list[Problem]:
    """``cancellation_cutoff`` when now is past ``start - cancel_cutoff_hours``."""
    cutoff = start - timedelta(hours=policy.cancel_cutoff_hours)
    if now <= cutoff:
        return []
    message = (
        f"Changes and cancellations close {hours_label(policy.cancel_cutoff_hours)} before "
        f"the appointment (at {moment_label(cutoff, policy.timezone)}); please contact the "
        "clinic to change it."
    )
    return [Problem(CANCELLATION_CUTOFF, message, session_index)]


def check_hours(
    start: datetime,
    end: datetime,
    practitioner: PractitionerSchedule,
    policy: ClinicPolicy,
    session_index: int | None = None,
) -> list[Problem]:
    """``outside_hours`` unless ``[start, end)`` lies inside the practitioner's working time.

    Working time is what ``free_slots`` uses: each local day's hours (or exception) minus its
    breaks, minus time off and clinic closures. The message names the first reason found.
    """
    tz = policy.timezone
    asked = Interval(start, end)
    days = _local_days(start, end, tz)
    working: list[Interval] = []
    for day in days:
        working.extend(working_intervals(practitioner, day, tz))
    open_time = subtract(merge(working), policy.closures)
    if any(piece.contains(asked) for piece in open_time):
        return []
    when = moment_label(start, tz)
    if any(c.overlaps(asked) for c in policy.closures):
        reason = f"The clinic is closed at {when}"
    elif any(t.overlaps(asked) for t in practitioner.time_off):
        reason = f"The practitioner is away at {when}"
    elif not any(p.contains(asked) for p in merge(_all_periods(practitioner, days, tz))):
        reason = f"{when} is outside the practitioner's working hours"
    else:
        reason = f"The practitioner is on a break at {when}"
    message = f"{reason}; choose another time or another practitioner."
    return [Problem(OUTSIDE_HOURS, message, session_index)]


def check_room_open(
    start: datetime,
    end: datetime,
    room: RoomSchedule,
    session_index: int | None = None,
    *,
    tz: str | None = None,
) -> list[Problem]:
    """``outside_hours`` when one of the room's closures overlaps ``[start, end)``."""
    asked = Interval(start, end)
    if not any(c.overlaps(asked) for c in room.closures):
        return []
    message = f"The room for this treatment is closed{at_label(start, tz)}; choose another time."
    return [Problem(OUTSIDE_HOURS, message, session_index)]


def _local_days(start: datetime, end: datetime, tz: str) -> list[date]:
    """Local dates whose periods could hold ``[start, end)``.

    From the day before the start (a period may run past midnight) to the end's date.
    """
    first = local_date(start, tz) - ONE_DAY
    last = local_date(end, tz)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _all_periods(practitioner: PractitionerSchedule, days: list[date], tz: str) -> list[Interval]:
    """The practitioner's working periods on ``days``, breaks and time off not removed."""
    return [p for day in days for p in day_periods(practitioner, day, tz)]
