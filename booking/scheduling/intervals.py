"""Set algebra on half-open time spans: merge, subtract, clip.

The ``*_pairs`` functions work on ``(start, end)`` tuples of any ordered values, so the same code
serves :class:`Interval` objects here and the integer timelines of the availability search.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .model import Interval

# A (start, end) pair of datetimes or integer ticks; only ordering is used.
Span = tuple[Any, Any]


def merge_pairs(pairs: Iterable[Span]) -> list[Span]:
    """Sort spans and join the ones that overlap or touch; empty spans are dropped."""
    merged: list[Span] = []
    for start, end in sorted(pairs):
        if not start < end:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract_pairs(base: Sequence[Span], cuts: Sequence[Span]) -> list[Span]:
    """Remove ``cuts`` from ``base``; both must already be merged (sorted, disjoint).

    One forward sweep over both lists, so the cost is linear in their lengths.
    """
    result: list[Span] = []
    first = 0
    count = len(cuts)
    for start, end in base:
        # Cuts ending before this base span cannot touch any later span either.
        while first < count and cuts[first][1] <= start:
            first += 1
        cursor = start
        k = first
        while k < count and cuts[k][0] < end and cursor < end:
            cut_start, cut_end = cuts[k]
            if cut_start > cursor:
                result.append((cursor, cut_start))
            if cut_end > cursor:
                cursor = cut_end
            k += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def intersect_pairs(left: Sequence[Span], right: Sequence[Span]) -> list[Span]:
    """The spans covered by both merged lists."""
    return subtract_pairs(left, subtract_pairs(left, right))


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted intervals with overlapping or touching ones joined (empty ones dropped)."""
    return [Interval(s, e) for s, e in merge_pairs((i.start, i.end) for i in intervals)]


def subtract(base: Iterable[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    """The parts of ``base`` not covered by any of ``cuts``, sorted and merged."""
    kept = subtract_pairs(
        merge_pairs((i.start, i.end) for i in base),
        merge_pairs((c.start, c.end) for c in cuts),
    )
    return [Interval(s, e) for s, e in kept]


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """Each interval cut down to ``window``, sorted by start; parts outside are dropped."""
    clipped = []
    for item in intervals:
        start = max(item.start, window.start)
        end = min(item.end, window.end)
        if start < end:
            clipped.append(Interval(start, end))
    clipped.sort(key=lambda i: (i.start, i.end))
    return clipped
