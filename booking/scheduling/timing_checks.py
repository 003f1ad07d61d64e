"""Checks about *when*: past, notice, horizon, prep lead, cancel cut-off, opening hours.

Each returns a list of :class:`Problem` (empty = allowed). ``tz``, where a check takes it
only for wording, puts the clinic's wall-clock time into the message.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .clock import ONE_DAY, day_periods, local_date
from .intervals import merge
from .model import (
    ClinicPolicy,
    Interval,
    PractitionerSchedule,
    Problem,
    Protocol,
    RoomSchedule,
)
from .rulebook import (
    before_horizon,
    closure_block,
    covers,
    fitting_starts,
    last_bookable_day,
    not_before_notice,
    not_before_now,
    not_before_prep,
)
from .start_sets import shape_of
from .timeline import from_ticks, to_ticks
from .problems import (
    BEYOND_HORIZON,
    CANCELLATION_CUTOFF,
    IN_PAST,
    MIN_NOTICE,
    OUTSIDE_HOURS,
    PREP_WINDOW,
    day_label,
    hours_label,
    lead_label,
    moment_label,
)
from .text import N_, Written


def check_in_past(
    start: datetime, now: datetime, session_index: int | None = None, *, tz: str | None = None
) -> list[Problem]:
    """``in_past`` when the appointment would start before now."""
    if to_ticks(start) >= not_before_now(now):
        return []
    if tz:
        message = N_("That time at %(when)s has already passed; choose a time in the future.",
                     when=moment_label(start, tz))
    else:
        message = N_("That time has already passed; choose a time in the future.")
    return [Problem(IN_PAST, message, session_index)]


def check_min_notice(
    start: datetime, now: datetime, policy: ClinicPolicy, session_index: int | None = None
) -> list[Problem]:
    """``min_notice`` when the start is sooner than the clinic's minimum notice."""
    if to_ticks(start) >= not_before_notice(now, policy):
        return []
    earliest = from_ticks(not_before_notice(now, policy))
    message = N_(
        "Bookings need at least %(hours)s' notice; the earliest time you can choose now is %(when)s.",
        hours=hours_label(policy.min_notice_hours), when=moment_label(earliest, policy.timezone),
    )
    return [Problem(MIN_NOTICE, message, session_index)]


def check_horizon(
    start: datetime, now: datetime, policy: ClinicPolicy, session_index: int | None = None
) -> list[Problem]:
    """``beyond_horizon`` when the start's local date is past today + the booking horizon."""
    if to_ticks(start) < before_horizon(now, policy):
        return []
    last_day = last_bookable_day(now, policy)
    message = N_("Bookings open %(num)d days ahead; choose a date up to %(day)s.",
                 num=policy.horizon_days, day=day_label(last_day))
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
    if not protocol.prep or to_ticks(start) >= not_before_prep(now, protocol):
        return []
    longest = max(protocol.prep, key=lambda step: step.lead_hours)
    ready = from_ticks(not_before_prep(now, protocol))
    lead = lead_label(longest.lead_hours)
    instruction = Written(longest.instruction, longest.translations)
    if tz:
        message = N_("%(instruction)s needs %(lead)s before the session; choose a time from %(when)s.",
                     instruction=instruction, lead=lead, when=moment_label(ready, tz))
    else:
        message = N_("%(instruction)s needs %(lead)s before the session; choose a later time.",
                     instruction=instruction, lead=lead)
    return [Problem(PREP_WINDOW, message, session_index)]


def check_cancellation_cutoff(
    start: datetime, now: datetime, policy: ClinicPolicy, session_index: int | None = None
) -> list[Problem]:
    """``cancellation_cutoff`` when now is past ``start - cancel_cutoff_hours``."""
    cutoff = start - timedelta(hours=policy.cancel_cutoff_hours)
    if now <= cutoff:
        return []
    message = N_(
        "Changes and cancellations close %(hours)s before the appointment (at %(when)s); "
        "please contact the clinic to change it.",
        hours=hours_label(policy.cancel_cutoff_hours), when=moment_label(cutoff, policy.timezone),
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
    shape = shape_of(practitioner)
    tick, length = to_ticks(start), to_ticks(end) - to_ticks(start)
    if any(
        covers(fitting_starts(length, shape.day(day, tz, policy.closures)[1]), tick) for day in days
    ):
        return []
    when = moment_label(start, tz)
    if any(c.overlaps(asked) for c in policy.closures):
        message = N_("The clinic is closed at %(when)s; choose another time or another practitioner.",
                     when=when)
    elif any(t.overlaps(asked) for t in practitioner.time_off):
        message = N_("The practitioner is away at %(when)s; choose another time or another practitioner.",
                     when=when)
    elif not any(p.contains(asked) for p in merge(_all_periods(practitioner, days, tz))):
        message = N_("%(when)s is outside the practitioner's working hours; choose another time or "
                     "another practitioner.", when=when)
    else:
        message = N_("The practitioner is on a break at %(when)s; choose another time or another "
                     "practitioner.", when=when)
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
    tick, length = to_ticks(start), to_ticks(end) - to_ticks(start)
    if not covers((closure_block(length, c) for c in room.closures), tick):
        return []
    if tz:
        message = N_("The room for this treatment is closed at %(when)s; choose another time.",
                     when=moment_label(start, tz))
    else:
        message = N_("The room for this treatment is closed; choose another time.")
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
