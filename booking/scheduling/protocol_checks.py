"""Checks a treatment's protocol imposes on a series: consultation first, spacing of sessions.

Day counts are local calendar days, so a session a week later at the same wall-clock time is
7 days apart even when a daylight-saving change makes it 167 or 169 hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from .clock import local_date
from .model import Problem, Protocol, TreatmentSpec
from .rulebook import consultations_allowed, covers, gap_days, spacing_allowed
from .timeline import to_ticks
from .problems import (
    CONSULTATION_REQUIRED,
    INTERVAL_TOO_LONG,
    INTERVAL_TOO_SHORT,
    day_label,
    days_label,
)
from .text import N_, Text


def check_consultation(
    treatment: TreatmentSpec,
    first_start: datetime,
    consultation_starts: Sequence[datetime],
    tz: str,
    session_index: int | None = None,
) -> list[Problem]:
    """``consultation_required`` unless a consultation qualifies for the first session.

    Only when the protocol names a consultation treatment. A consultation ``c`` qualifies when
    it is not after the first session, at least ``consultation_min_days_before`` local days
    before it, and no more than ``consultation_valid_days`` before it.
    """
    protocol = treatment.protocol
    allowed = consultations_allowed(protocol, consultation_starts, tz)
    if allowed is None or covers(allowed, to_ticks(first_start)):
        return []
    valid = timedelta(days=protocol.consultation_valid_days)
    earlier = sorted((c for c in consultation_starts if c <= first_start), reverse=True)
    # No consultation qualifies: explain with the most recent one, the likeliest to be fixed.
    if not earlier:
        message = N_("This treatment needs a consultation first; book a consultation before it.")
    elif first_start - earlier[0] > valid:
        message = N_("Your consultation on %(day)s is more than %(days)s old; book a new consultation first.",
                     day=day_label(local_date(earlier[0], tz)), days=days_label(protocol.consultation_valid_days))
    else:
        from_day = local_date(earlier[0], tz) + timedelta(
            days=protocol.consultation_min_days_before
        )
        message = N_("The first session must be at least %(days)s after your consultation; choose a date from "
                     "%(day)s.", days=days_label(protocol.consultation_min_days_before), day=day_label(from_day))
    return [Problem(CONSULTATION_REQUIRED, message, session_index)]


def check_intervals(
    starts: Sequence[datetime], protocol: Protocol, tz: str, first_index: int = 0
) -> list[Problem]:
    """Spacing problems between consecutive sessions, reported on the later session.

    ``starts[k]`` is session ``first_index + k``. The gap is counted in local calendar days.
    """
    chain = [(start, first_index + k) for k, start in enumerate(starts)]
    return interval_problems(chain, protocol, tz)


def interval_problems(
    chain: Sequence[tuple[datetime, int | None]], protocol: Protocol, tz: str
) -> list[Problem]:
    """Spacing problems along ``(start, session index)`` pairs in series order.

    The index may be None (a session with no place in a series); the problem then carries
    None and the message speaks of "this session" / "the previous session".
    """
    low, high = protocol.interval_min_days, protocol.interval_max_days
    if low is None and high is None:
        return []
    problems = []
    for (before, before_index), (after, after_index) in zip(chain, chain[1:]):
        early, late = spacing_allowed(protocol, tz, previous=before)
        tick = to_ticks(after)
        if early <= tick < late:
            continue
        gap = gap_days(before, after, tz)
        if tick < early:
            code, need = INTERVAL_TOO_SHORT, N_("at least %(days)s", days=days_label(low))
        else:
            code, need = INTERVAL_TOO_LONG, N_("at most %(days)s", days=days_label(high))
        day, distance = day_label(local_date(after, tz)), _distance(gap, before_index)
        if after_index is None:
            message = N_("This session on %(day)s would be %(distance)s; this treatment needs %(need)s between "
                         "sessions. Choose another date.", day=day, distance=distance, need=need)
        else:
            message = N_("Session %(number)d on %(day)s would be %(distance)s; this treatment needs %(need)s "
                         "between sessions. Choose another date.", number=after_index + 1, day=day,
                         distance=distance, need=need)
        problems.append(Problem(code, message, after_index))
    return problems


def _distance(gap: int, before_index: int | None) -> Text:
    """``5 days after session 2``, ``1 day before the previous session``."""
    days = days_label(abs(gap))
    if before_index is None:
        if gap >= 0:
            return N_("%(days)s after the previous session", days=days)
        return N_("%(days)s before the previous session", days=days)
    if gap >= 0:
        return N_("%(days)s after session %(number)d", days=days, number=before_index + 1)
    return N_("%(days)s before session %(number)d", days=days, number=before_index + 1)
