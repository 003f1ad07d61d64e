"""The clinic's wall clock: local dates and times to UTC and back, and when someone works.

Weekly hours and breaks are wall-clock periods; everything leaves this module as aware UTC
datetimes, so the rest of the rules never meet a daylight-saving transition.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from .intervals import merge, subtract
from .model import Interval, PractitionerSchedule

ONE_DAY = timedelta(days=1)
MIDNIGHT = time(0, 0)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name, cached."""
    return ZoneInfo(name)


@lru_cache(maxsize=16384)
def local_to_utc(day: date, at: time, tz: str) -> datetime:
    """The UTC moment of wall-clock ``at`` on ``day`` in zone ``tz``.

    A time in the spring-forward gap moves forward by the gap (02:30 becomes 03:30 local) and
    an ambiguous time in the autumn fold is its first occurrence: both are what ``fold=0``
    means in PEP 495, so the conversion is a plain ``astimezone``.
    """
    wall = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone(tz))
    return wall.astimezone(timezone.utc)


def to_local(moment: datetime, tz: str) -> datetime:
    """An aware datetime seen on the clinic's wall clock."""
    return moment.astimezone(zone(tz))


def local_date(moment: datetime, tz: str) -> date:
    """The clinic's calendar date at an aware moment."""
    return moment.astimezone(zone(tz)).date()


def local_day_bounds(day: date, tz: str) -> Interval:
    """The UTC span of one local calendar day (23 or 25 hours on transition days)."""
    return Interval(local_to_utc(day, MIDNIGHT, tz), local_to_utc(day + ONE_DAY, MIDNIGHT, tz))


def period_to_utc(day: date, start: time, end: time, tz: str) -> Interval:
    """A wall-clock period starting on ``day`` in UTC; an end not after the start is next day.

    That lets a period end at midnight (``time(0)``) or run overnight.
    """
    end_day = day if end > start else day + ONE_DAY
    return Interval(local_to_utc(day, start, tz), local_to_utc(end_day, end, tz))


def day_periods(schedule: PractitionerSchedule, day: date, tz: str) -> list[Interval]:
    """The practitioner's working periods on ``day`` in UTC, breaks not yet removed.

    A date exception replaces the weekly hours for that date; an exception with no periods is
    a day off. Periods keep their own starts because the slot grid counts from them.
    """
    exceptions = [e for e in schedule.exceptions if e.day == day]
    if exceptions:
        spans = [(s, e) for exc in exceptions for s, e in exc.periods]
    else:
        weekday = day.weekday()
        spans = [(p.start, p.end) for p in schedule.hours if p.weekday == weekday]
    periods = [period_to_utc(day, s, e, tz) for s, e in spans]
    periods.sort(key=lambda i: (i.start, i.end))
    return [p for p in periods if p.start < p.end]


def day_breaks(schedule: PractitionerSchedule, day: date, tz: str) -> list[Interval]:
    """The practitioner's weekly breaks on ``day`` in UTC (they apply on exception days too)."""
    weekday = day.weekday()
    return [period_to_utc(day, b.start, b.end, tz) for b in schedule.breaks if b.weekday == weekday]


def working_intervals(schedule: PractitionerSchedule, day: date, tz: str) -> list[Interval]:
    """When the practitioner works on local ``day``, in UTC.

    Hours (or the date's exception) minus that day's breaks minus time off. Clinic closures are
    not the practitioner's and are removed by the callers that know the policy.
    """
    periods = day_periods(schedule, day, tz)
    if not periods:
        return []
    cuts = day_breaks(schedule, day, tz) + list(schedule.time_off)
    return [
        Interval(i.start.astimezone(timezone.utc), i.end.astimezone(timezone.utc))
        for i in subtract(merge(periods), cuts)
    ]
