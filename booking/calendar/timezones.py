"""VTIMEZONE blocks, from ``icalendar``, kept per zone and years."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from icalendar import Timezone


@lru_cache(maxsize=32)
def vtimezone(tzid: str, first_year: int, last_year: int) -> str:
    """The VTIMEZONE block for ``tzid`` covering the years asked (folded, no final CRLF)."""
    component = Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1))
    return component.to_ical().decode("utf-8").rstrip("\r\n")
