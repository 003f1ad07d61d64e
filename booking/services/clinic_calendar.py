"""What the reception calendar and the day sheet show, as plain JSON-ready values.

Times leave this module as the clinic's wall-clock time without an offset ("floating"), which
is what the calendar component displays as-is whatever the browser's zone; ``wall_to_utc``
turns such a time from the browser back into UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext, pgettext
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.i18n import translate
from booking.models import HELD, Appointment, ClinicClosure, Practitioner, Series, Treatment
from booking.models.base import utcnow
from booking.scheduling.clock import day_breaks, day_periods, local_day_bounds, local_to_utc, to_local
from booking.scheduling.intervals import clip, merge, subtract
from booking.scheduling.model import Interval
from booking.scheduling.text import area_label
from booking.services import course, reception, schedules
from booking.services.clinic import get_settings

WALL_FORMAT = "%Y-%m-%dT%H:%M:%S"
MAX_RANGE_DAYS = 62


def status_words() -> dict[str, str]:
    """What a calendar label adds for an appointment's status (nothing while it is simply
    booked), in the current language."""
    return {"booked": "", "checked_in": pgettext("calendar label", "checked in"),
            "completed": pgettext("calendar label", "done"), "no_show": pgettext("calendar label", "no-show"),
            "cancelled": pgettext("calendar label", "cancelled")}


def wall(moment: datetime, tz: str) -> str:
    """A UTC moment as the clinic's floating wall-clock ISO string."""
    return to_local(moment, tz).strftime(WALL_FORMAT)


def utc_offset(moment: datetime, tz: str) -> str:
    """The clinic's UTC offset at ``moment`` as "+01:00", what the calendar's ``timeZone`` takes
    so that its "now" line and "today" follow the clinic's clock, not the browser's."""
    offset = to_local(moment, tz).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


def wall_to_utc(text: str, tz: str) -> datetime:
    """A floating wall-clock ISO string (no offset) in the clinic's zone as an aware UTC datetime.

    Raises ValueError for anything else, so a view can answer 400.
    """
    parsed = datetime.fromisoformat(text.strip().replace("Z", ""))
    if parsed.tzinfo is not None:
        parsed = parsed.replace(tzinfo=None)
    if not 2000 <= parsed.year <= 2100:
        raise ValueError("year out of range")
    return local_to_utc(parsed.date(), parsed.time(), tz)


def wall_range(start: str, end: str, tz: str) -> tuple[datetime, datetime]:
    """A [start, end) window from the calendar, bounded to ``MAX_RANGE_DAYS``; ValueError if bad."""
    lo, hi = wall_to_utc(start, tz), wall_to_utc(end, tz)
    if hi <= lo or hi - lo > timedelta(days=MAX_RANGE_DAYS):
        raise ValueError("bad range")
    return lo, hi


def short_name(name: str) -> str:
    """"Anna Rossi" -> "Anna R."."""
    parts = [p for p in name.split() if p]
    if len(parts) < 2:
        return name
    return f"{parts[0]} {parts[-1][0].upper()}."


def readable_text(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (#rrggbb)."""
    try:
        r, g, b = (int(background.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    except ValueError:
        return "#000000"

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    # Contrast with black is (L + .05) / .05, with white 1.05 / (L + .05).
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"


def series_position(appointment: Appointment) -> str | None:
    """"2/4" for the second session of a four-session series, None outside a series."""
    if appointment.series_id is None or appointment.series_index is None:
        return None
    protocol = appointment.treatment.protocol
    total = protocol.sessions if protocol is not None else len(appointment.series.appointments)
    return f"{appointment.series_index + 1}/{total}"


def label(appointment: Appointment) -> str:
    """"Anna R. · face 2/4": patient, body area (or treatment), series position."""
    area = appointment.treatment.body_area
    what = translate(area_label(area)) if area else appointment.treatment.name
    position = series_position(appointment)
    text = f"{short_name(appointment.patient.name)} · {what}" + (f" {position}" if position else "")
    status = status_words().get(appointment.status)
    return f"{text} · {status}" if status else text


def chosen_practitioners(raw: Iterable[str]) -> frozenset[int] | None:
    """The active practitioners a ``p`` query names (``?p=1&p=3``), or None for all of them.

    Ids of no active practitioner are ignored; when none is left, all are shown. Anything
    that is not a whole number raises ValueError, so a feed can answer 400.
    """
    asked = set()
    for text in raw:
        text = text.strip()
        if not text.isdigit() or len(text) > 10:
            raise ValueError(f"not a practitioner id: {text!r}")
        asked.add(int(text))
    if not asked:
        return None
    known = set(db.session.scalars(select(Practitioner.id).where(Practitioner.active.is_(True)))) & asked
    return frozenset(known) or None


def appointments_between(start: datetime, end: datetime, *, include_cancelled: bool = False,
                         practitioner_ids: Collection[int] | None = None) -> list[Appointment]:
    """Appointments overlapping ``[start, end)`` with what their labels need, by start
    (only those with ``practitioner_ids`` when given)."""
    query = (
        select(Appointment)
        .where(Appointment.start_at < end, Appointment.end_at > start)
        .options(selectinload(Appointment.patient), selectinload(Appointment.room),
                 selectinload(Appointment.treatment).selectinload(Treatment.protocol),
                 selectinload(Appointment.series).selectinload(Series.appointments),
                 selectinload(Appointment.practitioner).selectinload(Practitioner.user))
        .order_by(Appointment.start_at, Appointment.id)
    )
    if not include_cancelled:
        query = query.where(Appointment.status != "cancelled")
    # Holds show while they hold their time (issue 15); an expired one counts for nothing.
    query = query.where(or_(Appointment.status != HELD, Appointment.hold_expires_at > utcnow()))
    if practitioner_ids is not None:
        query = query.where(Appointment.practitioner_id.in_(sorted(practitioner_ids)))
    return list(db.session.scalars(query))


def events(start: datetime, end: datetime, *, by: str, editable: bool,
           only: Collection[int] | None = None) -> list[dict[str, Any]]:
    """The calendar's appointment events; ``by`` is "practitioner" or "room" (the columns);
    ``only``: just these practitioners' appointments."""
    tz = get_settings().timezone
    out = []
    now = utcnow()
    rows = appointments_between(start, end, practitioner_ids=only)
    preps = course.prep_states([a.id for a in rows])  # the patient's prep answers (issue 14)
    for a in rows:
        movable = editable and reception.why_not(a, "move", now=now) is None  # the panel's rule, for a drag
        resource = f"p{a.practitioner_id}" if by == "practitioner" else f"r{a.room_id or 0}"
        colour = a.treatment.color or "#4a7fb5"
        out.append({
            "id": str(a.id),
            "resourceIds": [resource],
            "start": wall(a.start_at, tz),
            "end": wall(a.end_at, tz),
            "title": label(a) + (f" · {course.PREP_WORDS[preps[a.id]]}" if a.id in preps else "")
                     + (" · " + gettext("held until %(time)s", time=f"{to_local(a.hold_expires_at, tz):%H:%M}")
                        if a.status == HELD else ""),
            "backgroundColor": colour,
            "textColor": readable_text(colour),
            "classNames": [f"status-{a.status}"] + (["overridden"] if a.override_reason else [])
                          + ([f"prep-{preps[a.id]}"] if a.id in preps else []),
            "editable": movable,
            "startEditable": movable,
            "durationEditable": False,
            "extendedProps": {"status": a.status, "treatment": a.treatment.name,
                              "practitioner": a.practitioner.name, "room": a.room.name if a.room else None,
                              "series": a.series_id is not None, "prep": preps.get(a.id)},
        })
        out += buffer_events(a, resource, tz)
    return out


def buffer_events(appointment: Appointment, resource: str, tz: str) -> list[dict[str, Any]]:
    """The time an appointment holds around itself (preparation before, clean-up after) as
    striped background events, so a gap that looks free but is held reads as held."""
    spans = [(appointment.busy_start, appointment.start_at, "before", gettext("Preparation")),
             (appointment.end_at, appointment.busy_end, "after", gettext("Clean-up"))]
    return [{"id": f"buffer-{appointment.id}-{side}", "resourceIds": [resource], "start": wall(lo, tz),
             "end": wall(hi, tz), "display": "background", "classNames": ["bg-buffer"], "title": title,
             "editable": False, "extendedProps": {"kind": "buffer", "appointment_id": appointment.id}}
            for lo, hi, side, title in spans if lo is not None and hi is not None and hi > lo]


def resources(by: str, only: Collection[int] | None = None) -> list[dict[str, Any]]:
    """The calendar's columns: active practitioners (``only`` these when given), or active rooms
    plus "No room"."""
    if by == "practitioner":
        return [{"id": f"p{p.id}", "title": p.name, "extendedProps": {"color": p.color, "short": short_name(p.name)}}
                for p in schedules.load_practitioners() if only is None or p.id in only]
    rooms = [{"id": f"r{r.id}", "title": r.name} for r in schedules.load_rooms()]
    return rooms + [{"id": "r0", "title": gettext("No room")}]


def _days(start: datetime, end: datetime, tz: str) -> list[date]:
    """The local dates touched by ``[start, end)``."""
    first, last = to_local(start, tz).date(), to_local(end - timedelta(seconds=1), tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _background(resource: str, span: Interval, kind: str, tz: str, title: str = "") -> dict[str, Any]:
    """One background event (shaded time) for a column."""
    return {"resourceIds": [resource], "start": wall(span.start, tz), "end": wall(span.end, tz),
            "display": "background", "classNames": [f"bg-{kind}"], "title": title,
            "extendedProps": {"kind": kind}}


def background(start: datetime, end: datetime, *, by: str,
               only: Collection[int] | None = None) -> list[dict[str, Any]]:
    """Shaded time: outside working hours, breaks, time off, room and clinic closures (in
    practitioner columns ``only`` these practitioners' when given)."""
    settings = get_settings()
    tz = settings.timezone
    closures = list(db.session.scalars(
        select(ClinicClosure).where(ClinicClosure.end_at > start, ClinicClosure.start_at < end)))
    window = Interval(start, end)
    out: list[dict[str, Any]] = []
    practitioners = schedules.load_practitioners()
    if by == "practitioner" and only is not None:
        practitioners = [p for p in practitioners if p.id in only]
    open_by_day: dict[date, list[Interval]] = {}
    for practitioner in practitioners:
        schedule = schedules.practitioner_schedule(practitioner, start, end)
        resource = f"p{practitioner.id}"
        for day in _days(start, end, tz):
            bounds = local_day_bounds(day, tz)
            periods = merge(day_periods(schedule, day, tz))
            open_by_day.setdefault(day, []).extend(periods)
            if by != "practitioner":
                continue
            for span in subtract([bounds], periods):
                out.append(_background(resource, span, "off-hours", tz))
            for span in clip(day_breaks(schedule, day, tz), bounds):
                out.append(_background(resource, span, "break", tz, gettext("Break")))
        if by == "practitioner":
            for row in practitioner.time_off:
                span = clip([Interval(row.start_at, row.end_at)], window)
                title = gettext("Away: %(reason)s", reason=row.reason) if row.reason else gettext("Away")
                out += [_background(resource, s, "away", tz, title) for s in span]
    if by == "practitioner":
        columns = [f"p{p.id}" for p in practitioners]
    else:
        columns = []
        for room in schedules.load_rooms():
            columns.append(f"r{room.id}")
            for row in room.closures:
                for s in clip([Interval(row.start_at, row.end_at)], window):
                    out.append(_background(f"r{room.id}", s, "closed", tz,
                                           gettext("Room closed: %(reason)s", reason=row.reason) if row.reason
                                           else gettext("Room closed")))
        columns.append("r0")
        for day, periods in open_by_day.items():
            for span in subtract([local_day_bounds(day, tz)], merge(periods)):
                out += [_background(c, span, "off-hours", tz) for c in columns]
    for closure in closures:
        for s in clip([Interval(closure.start_at, closure.end_at)], window):
            title = (gettext("Clinic closed: %(reason)s", reason=closure.reason) if closure.reason
                     else gettext("Clinic closed"))
            out += [_background(c, s, "closed", tz, title) for c in columns]
    return out


def visible_hours() -> tuple[str, str]:
    """The calendar's first and last visible time: an hour around all weekly working hours."""
    earliest, latest = time(8), time(19)
    for practitioner in schedules.load_practitioners():
        for period in practitioner.hours:
            earliest = min(earliest, period.start_time)
            latest = max(latest, period.end_time)
    first = max(earliest.hour - 1, 0)
    last = min(latest.hour + (2 if latest.minute else 1), 24)
    return f"{first:02d}:00", f"{last:02d}:00"


@dataclass(frozen=True)
class SheetColumn:
    """One practitioner's day on the day sheet."""

    practitioner: Practitioner
    appointments: list[Appointment]


def day_sheet(day: date) -> list[SheetColumn]:
    """Each practitioner's appointments on local ``day`` (active practitioners, and any with bookings)."""
    tz = get_settings().timezone
    bounds = local_day_bounds(day, tz)
    rows = [a for a in appointments_between(bounds.start, bounds.end, include_cancelled=False) if a.status != HELD]
    by_practitioner: dict[int, list[Appointment]] = {}
    for row in rows:
        by_practitioner.setdefault(row.practitioner_id, []).append(row)
    practitioners = {p.id: p for p in schedules.load_practitioners()}
    for row in rows:
        practitioners.setdefault(row.practitioner_id, row.practitioner)
    return [SheetColumn(p, by_practitioner.get(pid, [])) for pid, p in sorted(practitioners.items())]
