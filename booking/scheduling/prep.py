"""The prep timeline of one or more sessions: what to do on which day, in the clinic's time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .clock import to_local
from .model import PrepStep
from .text import N_


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a prep timeline: a prep step's day, or a session's start."""

    day: date
    at: datetime  # the exact moment (UTC): the step's deadline, or the session's start
    kind: str  # "prep" or "session"
    text: str
    session_index: int | None = None


def prep_due(start: datetime, step: PrepStep) -> datetime:
    """When a prep step must begin for a session starting at ``start``."""
    return start - timedelta(hours=step.lead_hours)


def prep_timeline(
    starts: Sequence[datetime], steps: Sequence[PrepStep], tz: str, *, session_label: str | None = None
) -> list[TimelineEntry]:
    """Every prep step of every session and the sessions themselves, in time order.

    "Mar 3: stop aspirin and NSAIDs · Mar 9: no alcohol · Mar 10, 10:00: session 1". A step
    due on the same local day as an earlier session's step is kept: each session has its own.
    """
    entries = []
    for index, start in enumerate(starts):
        for step in steps:
            due = prep_due(start, step)
            entries.append(TimelineEntry(to_local(due, tz).date(), due, "prep", step.instruction, index))
        if session_label is not None:
            label = f"{session_label} {index + 1}" if len(starts) > 1 else session_label
        else:  # "Session 2" / "Session", said in the reader's language where it is shown
            label = N_("Session %(number)d", number=index + 1) if len(starts) > 1 else N_("Session")
        entries.append(TimelineEntry(to_local(start, tz).date(), start, "session", label, index))
    return sorted(entries, key=lambda e: (e.at, e.kind != "prep", e.session_index or 0))
