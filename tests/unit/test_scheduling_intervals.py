"""merge / subtract / clip: examples and set-algebra invariants."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from scheduling_factories import PROPERTY_SETTINGS, utc

from booking.scheduling import Interval, clip, merge, subtract

BASE = utc(2026, 3, 2)


def span(start_minute: int, end_minute: int) -> Interval:
    """Minutes after BASE as an interval."""
    return Interval(BASE + timedelta(minutes=start_minute), BASE + timedelta(minutes=end_minute))


def test_merge_sorts_and_joins_overlapping_and_touching():
    merged = merge([span(50, 60), span(0, 10), span(5, 20), span(20, 30)])
    assert merged == [span(0, 30), span(50, 60)]


def test_merge_drops_empty_intervals_and_keeps_gaps():
    assert merge([span(5, 5), span(0, 1), span(2, 3)]) == [span(0, 1), span(2, 3)]
    assert merge([]) == []


def test_subtract_cuts_holes_and_ends():
    assert subtract([span(0, 100)], [span(10, 20), span(90, 120)]) == [span(0, 10), span(20, 90)]


def test_subtract_with_cut_covering_everything_leaves_nothing():
    assert subtract([span(10, 20), span(30, 40)], [span(0, 50)]) == []


def test_subtract_one_cut_spanning_two_bases():
    assert subtract([span(0, 10), span(20, 30)], [span(5, 25)]) == [span(0, 5), span(25, 30)]


def test_subtract_touching_cut_removes_nothing():
    assert subtract([span(0, 10)], [span(10, 20)]) == [span(0, 10)]


def test_clip_cuts_to_window_and_drops_outside():
    result = clip([span(50, 70), span(0, 30), span(90, 100)], span(20, 60))
    assert result == [span(20, 30), span(50, 60)]


spans = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 40)).map(lambda p: span(p[0], p[0] + p[1])),
    max_size=8,
)


def covered(intervals: list[Interval], minute: float) -> bool:
    """True when the moment ``minute`` after BASE lies in one of the half-open intervals."""
    moment = BASE + timedelta(minutes=minute)
    return any(i.start <= moment < i.end for i in intervals)


# Half minutes catch off-by-one errors at every boundary of the generated spans.
PROBES = [m / 2 for m in range(0, 2 * 242)]


@PROPERTY_SETTINGS
@given(spans)
def test_merge_is_sorted_disjoint_and_covers_the_same_time(intervals):
    merged = merge(intervals)
    for before, after in zip(merged, merged[1:]):
        assert before.end < after.start
    assert all(i.start < i.end for i in merged)
    assert all(covered(merged, m) == covered(intervals, m) for m in PROBES)
    assert merge(merged) == merged


@PROPERTY_SETTINGS
@given(spans, spans)
def test_subtract_keeps_exactly_base_minus_cuts(base, cuts):
    result = subtract(base, cuts)
    for before, after in zip(result, result[1:]):
        assert before.end < after.start
    for m in PROBES:
        assert covered(result, m) == (covered(base, m) and not covered(cuts, m))


@PROPERTY_SETTINGS
@given(spans, st.integers(0, 200), st.integers(0, 60))
def test_clip_stays_inside_the_window(intervals, start, length):
    window = span(start, start + length)
    result = clip(intervals, window)
    assert all(window.contains(i) and i.start < i.end for i in result)
    for m in PROBES:
        assert covered(result, m) == (covered(intervals, m) and covered([window], m))
