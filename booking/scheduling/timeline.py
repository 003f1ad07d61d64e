"""Time as integer microseconds ("ticks") since the Unix epoch, for the fast search paths.

Integers compare and add faster than aware datetimes and never depend on which ``tzinfo``
object a caller used for UTC, so availability turns datetimes into ticks once on the way in
and back into datetimes once on the way out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from .intervals import merge_pairs

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_TICK = timedelta(microseconds=1)

MINUTE = 60_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def to_ticks(moment: datetime) -> int:
    """Microseconds from the epoch to an aware datetime."""
    return (moment - EPOCH) // _ONE_TICK


def from_ticks(ticks: int) -> datetime:
    """The UTC datetime ``ticks`` microseconds after the epoch."""
    # Positional arguments: measurably faster than the keyword, and this runs once per slot.
    return EPOCH + timedelta(0, 0, ticks)


class SpanList:
    """Merged half-open integer spans with binary search over them.

    Built once per search (per practitioner, per room, per patient) and then asked many times
    for the few spans near one day, so a whole window costs O(n log n) rather than
    O(days x appointments).
    """

    __slots__ = ("starts", "ends")

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        """Merge ``spans`` and index them by start and by end."""
        merged = merge_pairs(spans)
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]

    def __bool__(self) -> bool:
        """True when at least one span is held."""
        return bool(self.starts)

    def within(self, low: int, high: int) -> list[tuple[int, int]]:
        """The spans that overlap ``[low, high)``, whole (not clipped), in order."""
        # Merged spans are disjoint, so their ends are sorted too.
        first = bisect_right(self.ends, low)
        last = bisect_right(self.starts, high - 1, lo=first)
        return list(zip(self.starts[first:last], self.ends[first:last]))

    def covers(self, tick: int) -> bool:
        """True when ``tick`` lies inside one of the spans."""
        index = bisect_right(self.starts, tick) - 1
        return index >= 0 and self.ends[index] > tick
