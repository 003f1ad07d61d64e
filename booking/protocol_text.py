"""A treatment's protocol in plain words, for patients ("4 sessions, about every 2 weeks")."""

from __future__ import annotations

from booking.models import Protocol


def _plural(n: int, word: str) -> str:
    """``2, "day"`` -> "2 days"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def lead_time(hours: int) -> str:
    """72 -> "3 days", 24 -> "1 day", 12 -> "12 hours"."""
    if hours >= 24 and hours % 24 == 0:
        return _plural(hours // 24, "day")
    return _plural(hours, "hour")


def cadence(days: int) -> str:
    """14 -> "every 2 weeks", 10 -> "every 10 days", 7 -> "every week"."""
    if days == 7:
        return "every week"
    if days % 7 == 0:
        return f"every {days // 7} weeks"
    return f"every {days} days"


def describe_series(protocol: Protocol | None) -> str:
    """"4 sessions, about every 2 weeks (10-21 days apart)" or "a single visit"."""
    if protocol is None or protocol.sessions <= 1 or protocol.interval_target_days is None:
        return "A single visit"
    return (
        f"{protocol.sessions} sessions, about {cadence(protocol.interval_target_days)} "
        f"({protocol.interval_min_days}–{protocol.interval_max_days} days apart)"
    )


def describe_prep(protocol: Protocol | None) -> list[str]:
    """Each prep rule as "Stop aspirin and NSAIDs: 7 days before"."""
    if protocol is None:
        return []
    return [f"{rule.instruction}: {lead_time(rule.lead_hours)} before" for rule in protocol.prep_rules]


def describe_rules(protocol: Protocol | None) -> list[str]:
    """The consultation and aftercare rules in words."""
    if protocol is None:
        return []
    lines = []
    if protocol.consultation_treatment_id is not None:
        lines.append(
            f"A consultation first, at least {_plural(protocol.consultation_min_days_before, 'day')} "
            f"before the first session (valid {protocol.consultation_valid_days} days)"
        )
    if protocol.aftercare_hours:
        lines.append(
            f"Aftercare: no other treatment on the same area for {lead_time(protocol.aftercare_hours)}"
        )
    return lines
