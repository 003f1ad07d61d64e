"""Shared pieces of the wizard: who is booking, the encoded session list, the prep timeline."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import abort, flash
from flask_babel import gettext as _
from flask_login import current_user

from booking.extensions import db
from booking.models import Treatment
from booking.scheduling.clock import to_local
from booking.scheduling.model import PrepStep
from booking.scheduling.prep import prep_timeline
from booking.services.actor import Actor
from booking.services.choices import practitioner_names
from booking.services.clinic import get_settings
from booking.services.errors import ServiceError
from booking.services.loading import load_treatment, patient_facts

PENDING = "pending_booking"
MAX_ID = 2_147_483_647  # the database's integer range (ids in URLs use int(max=2147483647) too)


def patient_actor() -> Actor | None:
    """The signed-in patient, or None (anonymous visitors and staff browse as guests)."""
    if current_user.is_authenticated and current_user.role == "patient":
        return Actor.of(current_user)
    return None


def treatment_or_404(slug: str) -> Treatment:
    """An active treatment, or 404."""
    try:
        return load_treatment(slug)
    except ServiceError:
        abort(404, description=_("There is no such treatment."))


def encode(sessions) -> list[str]:
    """Sessions as "iso|practitioner" strings for links and hidden fields."""
    return [f"{start.isoformat()}|{pid}" for start, pid in sessions]


def decode(values: list[str], limit: int | None = None) -> list[tuple[datetime, int]]:
    """Parse "iso|practitioner" strings (at most ``limit`` of them); 400 on anything malformed."""
    if limit is not None and len(values) > limit:
        abort(400, description=_("That booking link has %(count)d sessions; this treatment has at most "
                                 "%(limit)d. Please start again.", count=len(values), limit=limit))
    sessions = []
    for value in values:
        iso, _bar, pid = value.partition("|")
        try:
            start = datetime.fromisoformat(iso)
            practitioner = int(pid)
        except ValueError:
            abort(400, description=_("That booking link is damaged; please start again."))
        if start.tzinfo is None or not 2000 <= start.year <= 2100 or not 1 <= practitioner <= MAX_ID:
            abort(400, description=_("That booking link is damaged; please start again."))
        sessions.append((start, practitioner))
    return sessions


def session_count(treatment: Treatment) -> int:
    """How many sessions the treatment's series has (1 for a single visit)."""
    return treatment.protocol.sessions if treatment.protocol is not None else 1


def id_arg(value: str | None) -> int | None:
    """A row id from a query string, or None when it is missing or outside the database's range."""
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 1 <= number <= MAX_ID else None


def parse_dates(raw: str) -> list[date]:
    """Comma-separated ISO dates (bad ones are ignored with a message)."""
    days = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            days.append(date.fromisoformat(part))
        except ValueError:
            flash(_("“%(text)s” is not a date; use the date picker.", text=part), "error")
    return sorted(set(days))


def timeline_for(treatment: Treatment, starts: list[datetime]):
    """The prep timeline of the sessions, with local times for display."""
    protocol = treatment.protocol
    steps = [PrepStep(r.instruction, r.lead_hours, r.remind) for r in (protocol.prep_rules if protocol else [])]
    tz = get_settings().timezone
    return [(entry, to_local(entry.at, tz)) for entry in prep_timeline(starts, steps, tz)]


def needs_consultation(treatment: Treatment, actor: Actor | None) -> Treatment | None:
    """The consultation a visitor must book first, or None."""
    protocol = treatment.protocol
    if protocol is None or protocol.consultation_treatment_id is None:
        return None
    if actor is not None and patient_facts(actor.user_id, treatment).consultation_starts:
        return None
    return db.session.get(Treatment, protocol.consultation_treatment_id)


def summary_for(treatment: Treatment, sessions=(), *, practitioner: str | None = None, day: date | None = None,
                changing: int | None = None) -> dict:
    """What is chosen so far, for the summary box on every step: the treatment, its duration and
    price (per session and times the sessions), with whom, and the date and time(s)."""
    tz = get_settings().timezone
    count = session_count(treatment)
    names = practitioner_names() if sessions else {}
    chosen = [(to_local(start, tz), names.get(pid, "")) for start, pid in sessions]
    people = list(dict.fromkeys(name for _, name in chosen if name))
    price = treatment.price_cents
    return {
        "treatment": treatment, "sessions": count, "duration": treatment.duration_minutes,
        "price": price, "total": price * count if price is not None else None,
        "practitioner": ", ".join(people) if people else practitioner, "times": chosen, "day": day,
        "changing": changing,
    }


def month_grid(month: date) -> list[list[date | None]]:
    """Weeks (Monday first) of the month, None outside it."""
    first = month - timedelta(days=month.weekday())
    weeks = []
    day = first
    while day < (month.replace(day=28) + timedelta(days=4)).replace(day=1) or day.weekday() != 0:
        week = []
        for _weekday in range(7):
            week.append(day if day.month == month.month else None)
            day += timedelta(days=1)
        weeks.append(week)
        if day.month != month.month and day.weekday() == 0:
            break
    return weeks


def months_spanning(days) -> list[tuple[date, list[list[date | None]]]]:
    """The month grids from the first to the last of ``days`` (at most three)."""
    months = []
    if days:
        month = min(days).replace(day=1)
        while month <= max(days) and len(months) < 3:
            months.append((month, month_grid(month)))
            month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months
