"""Reading the audit log and the outbox for the staff pages, and retrying failed mail.

The audit page tells each event as one sentence with names and clinic-local times
(``describe_events``); the names a page needs are loaded in one query per kind of thing
(``load_names``), so a page costs the same few queries however many events it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable

from sqlalchemy import func, or_, select

from booking.extensions import db
from booking.mail import sender
from booking.models import STAFF_ROLES, Appointment, AuditEvent, OutboxMessage, Practitioner, Room, Treatment, User
from booking.scheduling.clock import local_day_bounds, to_local
from booking.services import audit
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest
from booking.services.reception import require_front_desk

PAGE_SIZE = 100
AUDIT_PAGE_SIZE = 50
MAX_PAGE = 100_000


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page is narrowed to; every field optional."""

    patient: str = ""
    actor_id: int | None = None
    appointment_id: int | None = None
    first_day: date | None = None
    last_day: date | None = None
    action: str = ""


@dataclass(frozen=True)
class Page:
    """One page of results and whether there are more."""

    rows: list
    page: int
    has_more: bool


def staff_members() -> list[User]:
    """Staff accounts, for the "who" filter."""
    return list(db.session.scalars(select(User).where(User.role.in_(STAFF_ROLES)).order_by(User.name)))


def search_audit(actor: Actor, wanted: AuditFilter, *, page: int = 1) -> Page:
    """Audit events matching ``wanted``, newest first, ``AUDIT_PAGE_SIZE`` a page."""
    if actor.role not in ("admin", "receptionist"):
        raise Forbidden("Only reception and administrators read the audit log.")
    tz = get_settings().timezone
    query = select(AuditEvent)
    if wanted.patient.strip():
        text = wanted.patient.strip()
        if text.isdigit() and len(text) <= 9:
            query = query.where(AuditEvent.patient_id == int(text))
        else:
            like = f"%{text.lower()}%"
            ids = select(User.id).where(User.role == "patient", or_(func.lower(User.name).like(like),
                                                                    func.lower(User.email).like(like)))
            query = query.where(AuditEvent.patient_id.in_(ids))
    if wanted.actor_id is not None:
        query = query.where(AuditEvent.actor_id == wanted.actor_id)
    if wanted.appointment_id is not None:
        query = query.where(AuditEvent.appointment_id == wanted.appointment_id)
    if wanted.first_day is not None and wanted.last_day is not None and wanted.last_day < wanted.first_day:
        raise InvalidRequest("The end date is before the start date.")
    if wanted.first_day is not None:
        query = query.where(AuditEvent.at >= local_day_bounds(wanted.first_day, tz).start)
    if wanted.last_day is not None:
        query = query.where(AuditEvent.at < local_day_bounds(wanted.last_day, tz).end)
    if wanted.action.strip():
        query = query.where(AuditEvent.action.like(f"%{wanted.action.strip()}%"))
    page = min(max(page, 1), MAX_PAGE)
    rows = list(db.session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                                   .offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE + 1)))
    return Page(rows[:AUDIT_PAGE_SIZE], page, len(rows) > AUDIT_PAGE_SIZE)


# Questionnaire events: the log shows what the answers rule out, never the answers. Events
# written before that rule still hold answers; they are shown the same way.
HEALTH_ACTIONS = frozenset({"intake.saved"})
# Snapshot keys never shown, by action: the questionnaire answers behind a clearance.
HIDDEN_KEYS = {"patient.cleared": frozenset({"answers"})}


def readable(action: str, values: Any) -> dict | None:
    """What the audit page may show of an event's before/after snapshot."""
    if not isinstance(values, dict) or not values:
        return None
    if action in HEALTH_ACTIONS:
        return {k: v for k, v in values.items() if k == "rules_out"} or None
    hidden = HIDDEN_KEYS.get(action, frozenset())
    return {k: v for k, v in values.items() if k not in hidden} or None


def changed_keys(before: dict | None, after: dict | None) -> list[str]:
    """The keys whose values differ between two snapshots (all keys of a create or delete)."""
    before, after = before or {}, after or {}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


# --- the names a page of events mentions ---------------------------------------------------------
@dataclass(frozen=True)
class AppointmentFacts:
    """What a sentence says about an appointment it has no snapshot of."""

    start_at: datetime
    treatment_id: int
    practitioner_id: int
    room_id: int | None
    series_index: int | None


@dataclass
class Names:
    """Display names for the ids on one page of events, each kind loaded with one query."""

    users: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (name, role)
    appointments: dict[int, AppointmentFacts] = field(default_factory=dict)
    practitioners: dict[int, str] = field(default_factory=dict)
    rooms: dict[int, str] = field(default_factory=dict)
    treatments: dict[int, str] = field(default_factory=dict)
    slugs: dict[str, str] = field(default_factory=dict)  # treatment slug -> name


def _as_id(value: Any) -> int | None:
    """An id from a snapshot value (anything else: None)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _snapshots(event: AuditEvent) -> tuple[dict, dict]:
    """The event's before/after as the page may show them (empty dicts when absent)."""
    return readable(event.action, event.before) or {}, readable(event.action, event.after) or {}


def load_names(events: list[AuditEvent]) -> Names:
    """Names for every id ``events`` mention: one query per kind (appointments, people,
    practitioners, rooms, treatments), however many events there are."""
    users: set[int | None] = set()
    appointments: set[int | None] = set()
    practitioners: set[int | None] = set()
    rooms: set[int | None] = set()
    treatments: set[int | None] = set()
    slugs: set[str] = set()
    by_entity = {"user": users, "practitioner": practitioners, "room": rooms, "treatment": treatments}
    for event in events:
        users |= {event.actor_id, event.patient_id}
        appointments.add(event.appointment_id)
        if event.entity_type in by_entity:
            by_entity[event.entity_type].add(event.entity_id)
        for snap in _snapshots(event):
            practitioners.add(_as_id(snap.get("practitioner_id")))
            rooms.add(_as_id(snap.get("room_id")))
            users.add(_as_id(snap.get("created_by_id")))
            if snap.get("scope") in ("patient", "practitioner", "room"):
                {"patient": users, "practitioner": practitioners, "room": rooms}[snap["scope"]].add(
                    _as_id(snap.get("target_id")))
            for key in ("treatment", "rules_out", "treatments"):
                value = snap.get(key)
                for slug in value if isinstance(value, list) else [value]:
                    if isinstance(slug, str):
                        slugs.add(slug)
    names = Names()
    wanted = {i for i in appointments if i is not None}
    if wanted:
        for row in db.session.execute(select(Appointment.id, Appointment.start_at, Appointment.treatment_id,
                                             Appointment.practitioner_id, Appointment.room_id,
                                             Appointment.series_index).where(Appointment.id.in_(wanted))):
            names.appointments[row.id] = AppointmentFacts(row.start_at, row.treatment_id, row.practitioner_id,
                                                          row.room_id, row.series_index)
            treatments.add(row.treatment_id)
            practitioners.add(row.practitioner_id)
            rooms.add(row.room_id)
    wanted = {i for i in users if i is not None}
    if wanted:
        names.users = {row.id: (row.name, row.role) for row in
                       db.session.execute(select(User.id, User.name, User.role).where(User.id.in_(wanted)))}
    wanted = {i for i in practitioners if i is not None}
    if wanted:
        names.practitioners = dict(db.session.execute(
            select(Practitioner.id, User.name).join(User, Practitioner.user_id == User.id)
            .where(Practitioner.id.in_(wanted))).all())
    wanted = {i for i in rooms if i is not None}
    if wanted:
        names.rooms = dict(db.session.execute(select(Room.id, Room.name).where(Room.id.in_(wanted))).all())
    wanted = {i for i in treatments if i is not None}
    if wanted or slugs:
        for row in db.session.execute(select(Treatment.id, Treatment.slug, Treatment.name)
                                      .where(or_(Treatment.id.in_(wanted), Treatment.slug.in_(slugs)))):
            names.treatments[row.id] = row.name
            names.slugs[row.slug] = row.name
    return names


# --- one sentence per event ----------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One field of a snapshot that an event changed, as text."""

    name: str
    before: str
    after: str


@dataclass(frozen=True)
class Entry:
    """One audit event as the page shows it."""

    event: AuditEvent
    when: str
    sentence: str
    actor: str
    actor_role: str | None
    patient: str | None
    overridden: tuple[str, ...]
    changes: tuple[Change, ...]


def _moment(value: Any) -> datetime | None:
    """A stored moment (a datetime or an ISO string; naive means UTC), or None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def clinic_time(moment: datetime, tz: str, *, year: bool = True) -> str:
    """"Tue 8 Dec 2026, 10:15" on the clinic's wall clock (without the year: "Tue 8 Dec, 10:15")."""
    local = to_local(moment, tz)
    return f"{local:%a} {local.day} {local:%b}{f' {local.year}' if year else ''}, {local:%H:%M}"


def _quoted(text: Any) -> str:
    """Free text in quotes, shortened."""
    text = " ".join(str(text).split())
    return f"“{text[:200]}{'…' if len(text) > 200 else ''}”"


def _day(value: Any) -> str:
    """A stored ISO date as "Tue 8 Dec 2026"."""
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return "an unknown day"
    return f"{day:%a} {day.day} {day:%b} {day.year}"


class _Story:
    """What one event's sentence is made of: the names and clinic-local times it mentions."""

    def __init__(self, event: AuditEvent, names: Names, tz: str) -> None:
        self.event, self.names, self.tz = event, names, tz
        self.before, self.after = _snapshots(event)

    def person(self, user_id: int | None, fallback: str = "someone") -> str:
        """A user's name."""
        return self.names.users.get(user_id, (fallback, ""))[0] if user_id is not None else fallback

    @property
    def actor(self) -> str:
        """Who did it ("The system" for jobs and the demo)."""
        return self.person(self.event.actor_id, "someone") if self.event.actor_id else "The system"

    @property
    def patient(self) -> str:
        """The patient's current name (an erased patient is "Erased patient")."""
        return self.person(self.event.patient_id, "a patient")

    @property
    def by_patient(self) -> bool:
        """The patient acted on their own record."""
        return self.event.actor_id is not None and self.event.actor_id == self.event.patient_id

    def whose(self) -> str:
        """"Paola Patient's", or "their" when the patient did it themselves."""
        return "their" if self.by_patient else f"{self.patient}'s"

    def when(self, value: Any) -> str:
        """A moment in a sentence, clinic time, with the year only when it differs from the event's."""
        moment = _moment(value)
        if moment is None:
            return "an unknown time"
        event_year = to_local(_moment(self.event.at) or moment, self.tz).year
        return clinic_time(moment, self.tz, year=to_local(moment, self.tz).year != event_year)

    def treatment(self, slug: Any = None) -> str:
        """A treatment's name from a slug (or the appointment's treatment)."""
        if isinstance(slug, str):
            return self.names.slugs.get(slug, slug)
        facts = self.names.appointments.get(self.event.appointment_id)
        return self.names.treatments.get(facts.treatment_id, "appointment") if facts else "appointment"

    def practitioner(self, practitioner_id: Any) -> str:
        """A practitioner's name."""
        return self.names.practitioners.get(_as_id(practitioner_id), "a practitioner")

    def room(self, room_id: Any) -> str:
        """A room's name."""
        return self.names.rooms.get(_as_id(room_id), "a room")

    def slot(self, snap: dict) -> tuple[Any, Any, Any]:
        """Start, practitioner and room of an appointment in a snapshot (else as it is now)."""
        facts = self.names.appointments.get(self.event.appointment_id)
        start = snap.get("start") or (facts.start_at if facts else None)
        return (start, snap.get("practitioner_id") or (facts.practitioner_id if facts else None),
                snap.get("room_id") if "room_id" in snap else (facts.room_id if facts else None))

    def appointment(self, snap: dict | None = None) -> str:
        """"Mesotherapy, face (session 2) on Tue 8 Dec, 10:00 with Anna Practitioner"."""
        snap = snap if snap is not None else (self.after or self.before)
        start, practitioner_id, _ = self.slot(snap)
        facts = self.names.appointments.get(self.event.appointment_id)
        index = snap.get("series_index", facts.series_index if facts else None)
        session = f" (session {index + 1})" if isinstance(index, int) and not isinstance(index, bool) else ""
        return f"{self.treatment()}{session} on {self.when(start)} with {self.practitioner(practitioner_id)}"

    def entity(self) -> str:
        """The thing an event is about, by name."""
        kind, entity_id = self.event.entity_type, self.event.entity_id
        if kind == "user":
            return self.person(entity_id, f"account #{entity_id}")
        if kind == "practitioner":
            return self.practitioner(entity_id)
        if kind == "room":
            return self.room(entity_id)
        if kind == "treatment":
            return self.names.treatments.get(entity_id, "a treatment")
        if kind == "appointment":
            return f"{self.patient}'s {self.appointment()}"
        return kind.replace("_", " ")

    def span(self, snap: dict, start: str = "start", end: str = "end") -> str:
        """"from Tue 8 Dec, 10:00 to Wed 9 Dec, 18:00"."""
        return f"from {self.when(snap.get(start))} to {self.when(snap.get(end))}"

    def note(self, snap: dict, key: str) -> str:
        """A free-text field of a snapshot in quotes after a sentence, when there is one."""
        text = snap.get(key)
        return f" ({_quoted(text)})" if isinstance(text, str) and text.strip() else ""

    def fields(self) -> str:
        """The changed fields of an update, as words."""
        keys = [k for k in changed_keys(self.before, self.after) if k != "password_changed"]
        words = [k.replace("_id", "").replace("_", " ") for k in keys]
        if self.after.get("password_changed"):
            words.append("password")
        return f": {', '.join(words)}" if words else ""


def _booked(s: _Story) -> str:
    start, practitioner_id, room_id = s.slot(s.after)
    room = f" in {s.room(room_id)}" if room_id else ""
    return f"{s.actor} booked {s.whose()} {s.appointment(s.after)}{room}"


def _moved(s: _Story) -> str:
    (old, old_by, old_room), (new, new_by, new_room) = s.slot(s.before), s.slot(s.after)
    text = f"{s.actor} moved {s.whose()} {s.treatment()} from {s.when(old)} to {s.when(new)}"
    if old_by != new_by:
        text += f", from {s.practitioner(old_by)} to {s.practitioner(new_by)}"
    else:
        text += f" with {s.practitioner(new_by)}"
    if old_room != new_room and new_room:
        text += f", now in {s.room(new_room)}"
    return text


def _status(template: str) -> Callable[[_Story], str]:
    """A sentence about one appointment from a template such as "{actor} cancelled {whose} {appointment}"."""
    def told(s: _Story) -> str:
        return template.format(actor=s.actor, whose=s.whose(), patient=s.patient, appointment=s.appointment())
    return told


def _series_booked(s: _Story) -> str:
    sessions = s.after.get("sessions")
    count = f"{sessions} " if isinstance(sessions, int) else ""
    return (f"{s.actor} booked a series of {count}{s.treatment(s.after.get('treatment'))} sessions for "
            f"{'themselves' if s.by_patient else s.patient}")


def _intake(s: _Story) -> str:
    ruled = [s.treatment(slug) for slug in s.after.get("rules_out") or [] if isinstance(slug, str)]
    verb = "filled in" if not s.before else "updated"
    outcome = f"it rules out {', '.join(ruled)}" if ruled else "it rules out no treatment"
    return f"{s.actor} {verb} {s.whose()} health questionnaire; {outcome}"


def _patient_created(s: _Story) -> str:
    text = f"{s.actor} added the patient {s.patient}"
    if "email" in s.after and not s.after["email"]:
        text += " (no e-mail address: phone only)"
    return text


def _feed_target(s: _Story, snap: dict) -> str:
    scope, target = snap.get("scope"), snap.get("target_id")
    if scope == "patient":
        return f"the appointments of {s.person(_as_id(target), 'a patient')}"
    if scope == "practitioner":
        return f"{s.practitioner(target)}'s diary"
    if scope == "room":
        return f"{s.room(target)}'s bookings"
    return "the whole clinic"


def _user_saved(s: _Story) -> str:
    if not s.before:
        role = s.after.get("role")
        return f"{s.actor} created the account of {s.entity()}{f' ({role})' if role else ''}"
    return f"{s.actor} changed the account of {s.entity()}{s.fields()}"


def _exception_added(s: _Story) -> str:
    if s.after.get("start"):
        text = (f"{s.actor} set special hours for {s.entity()} on {_day(s.after.get('day'))}: "
                f"{s.after.get('start')}–{s.after.get('end')}")
    else:
        text = f"{s.actor} gave {s.entity()} a day off on {_day(s.after.get('day'))}"
    return text + s.note(s.after, "note")


def _exception_removed(s: _Story) -> str:
    return f"{s.actor} removed {s.entity()}'s special hours on {_day(s.before.get('day'))}" + s.note(s.before, "note")


def _removed(template: str) -> Callable[[_Story], str]:
    """A removed time off or closure: its span and reason from the removed row."""
    def told(s: _Story) -> str:
        return (template.format(actor=s.actor, entity=s.entity()) + " " + s.span(s.before, "start_at", "end_at")
                + s.note(s.before, "reason"))
    return told


def _callback(s: _Story) -> str:
    slug = s.after.get("treatment")
    return f"{s.patient} asked to be called back about {s.treatment(slug) if slug else 'a treatment'}"


def _saved(noun: str) -> Callable[[_Story], str]:
    def told(s: _Story) -> str:
        name = s.after.get("name") if noun in ("room", "treatment") and isinstance(s.after.get("name"), str) \
            else s.entity()
        if not s.before:
            return f"{s.actor} added the {noun} {name}"
        return f"{s.actor} changed the {noun} {name}{s.fields()}"
    return told


def _prep_rule(verb: str, snap_key: str) -> Callable[[_Story], str]:
    def told(s: _Story) -> str:
        snap = s.after if snap_key == "after" else s.before
        hours = snap.get("lead_hours")
        lead = f", {hours} h before" if isinstance(hours, int) else ""
        return f"{s.actor} {verb} {s.entity()}: {_quoted(snap.get('instruction', ''))}{lead}"
    return told


def _prep_rule_changed(s: _Story) -> str:
    return f"{s.actor} changed the preparation step {_quoted(s.before.get('instruction', ''))}{s.fields()}"


def _outbox_retried(s: _Story) -> str:
    about = f" about {s.patient}'s {s.appointment()}" if s.event.appointment_id else ""
    return f"{s.actor} queued a failed e-mail{about} again"


def _prep_answered(s: _Story) -> str:
    status = s.after.get("status")
    outcome = {"prepared": "every step done", "needs_attention": "a step not done",
               "callback": "asked for a call back"}.get(status, "answered")
    how = " (from the e-mailed link)" if s.after.get("via") == "link" else ""
    who = f"{s.patient} answered" if s.by_patient or s.after.get("via") == "link" else f"{s.actor} recorded"
    return f"{who} the prep checklist for {s.whose()} {s.appointment()}: {outcome}{how}"


def _course_set(s: _Story) -> str:
    sessions = s.after.get("sessions")
    if not sessions:
        return f"{s.actor} recorded that {s.patient}'s series is not a prepaid course"
    until = f", to be used by {_day(s.after['expires_on'])}" if s.after.get("expires_on") else ""
    return f"{s.actor} recorded {s.patient}'s series as a prepaid course of {sessions} sessions{until}"


# Every action the services write (grep ``audit.record``), told as a sentence; an action not
# listed here gets ``_generic``.
SENTENCES: dict[str, Callable[[_Story], str]] = {
    "appointment.booked": _booked,
    "appointment.moved": _moved,
    "appointment.cancelled": _status("{actor} cancelled {whose} {appointment}"),
    "appointment.checked_in": _status("{actor} checked in {patient} for {appointment}"),
    "appointment.completed": _status("{actor} marked {whose} {appointment} as completed"),
    "appointment.no_show": _status("{actor} marked {whose} {appointment} as a no-show"),
    "appointment.prep_acknowledged": _status("{actor} confirmed the preparation steps for {whose} {appointment}"),
    "appointment.invite_resent": _status("{actor} sent the calendar invite for {whose} {appointment} again"),
    "series.booked": _series_booked,
    "patient.registered": lambda s: f"{s.patient} registered an account",
    "patient.created": _patient_created,
    "patient.erased": lambda s: f"{s.actor} erased the personal data of a patient (now shown as {s.patient})",
    "patient.erasure_requested": lambda s: f"{s.patient} asked for their personal data to be erased",
    "patient.callback_requested": _callback,
    "patient.cleared": lambda s: f"{s.actor} cleared {s.patient} for {s.treatment(s.after.get('treatment'))}",
    "intake.saved": _intake,
    "password.reset": lambda s: f"{s.actor} reset their password with an e-mailed link",
    "feed.created": lambda s: f"{s.actor} created a calendar subscription link for {_feed_target(s, s.after)}",
    "feed.revoked": lambda s: f"{s.actor} revoked a calendar subscription link for {_feed_target(s, s.before)}",
    "settings.changed": lambda s: (f"{s.actor} changed the clinic settings{s.fields()}" if s.before
                                   else f"{s.actor} set up the clinic settings"),
    "user.saved": _user_saved,
    "schedule.hours_changed": lambda s: f"{s.actor} changed the weekly hours of {s.entity()}",
    "schedule.exception_added": _exception_added,
    "schedule.time_off_added": lambda s: (f"{s.actor} added time off for {s.entity()} {s.span(s.after)}"
                                          + s.note(s.after, "reason")),
    "schedule.room_closed": lambda s: f"{s.actor} closed {s.entity()} {s.span(s.after)}" + s.note(s.after, "reason"),
    "schedule.clinic_closed": lambda s: f"{s.actor} closed the clinic {s.span(s.after)}" + s.note(s.after, "reason"),
    "schedule.exception_removed": _exception_removed,
    "schedule.time_off_removed": _removed("{actor} removed {entity}'s time off"),
    "schedule.room_closure_removed": _removed("{actor} reopened {entity}: removed its closure"),
    "schedule.clinic_closure_removed": _removed("{actor} removed the clinic closure"),
    "schedule.room_saved": _saved("room"),
    "schedule.practitioner_saved": lambda s: f"{s.actor} changed {s.entity()}'s bookings settings{s.fields()}",
    "catalog.treatment_saved": _saved("treatment"),
    "catalog.prep_rule_added": _prep_rule("added a preparation step to", "after"),
    "catalog.prep_rule_changed": _prep_rule_changed,
    "catalog.prep_rule_removed": _prep_rule("removed a preparation step from", "before"),
    "outbox.retried": _outbox_retried,
    # The course after booking (issue 14).
    "prep.answered": _prep_answered,
    "series.course_set": _course_set,
    "series.session_rebooked": lambda s: f"{s.actor} booked a cancelled session of {s.whose()} series again",
    "recall.created": lambda s: (f"{s.patient} completed a series and is due for maintenance from "
                                 f"{_day(s.after.get('due_on'))}"),
    "recall.booked": _status("{patient} booked their maintenance: {appointment}"),
    "recall.declined": lambda s: f"{s.actor} recorded that {s.patient} declined maintenance for now",
    "catalog.aftercare_rule_added": lambda s: (f"{s.actor} added an aftercare step to {s.entity()}: "
                                               f"{_quoted(s.after.get('instruction', ''))}"
                                               + (f", {s.after['hours']} h" if isinstance(s.after.get("hours"), int)
                                                  else "")),
    "catalog.aftercare_rule_removed": lambda s: (f"{s.actor} removed an aftercare step from {s.entity()}: "
                                                 f"{_quoted(s.before.get('instruction', ''))}"),
    "demo.seeded": lambda s: (f"The demo data was loaded ({s.after.get('appointments')} appointments)"
                              if isinstance(s.after.get("appointments"), int) else "The demo data was loaded"),
}
# Edits whose sentence names the changed fields but not their values: the entry lists them,
# before and after. Every other known action's sentence says all the page shows of it; an
# unknown action lists its snapshot too.
SHOWS_CHANGES = frozenset({"settings.changed", "user.saved", "schedule.hours_changed", "schedule.room_saved",
                           "schedule.practitioner_saved", "catalog.treatment_saved", "catalog.prep_rule_changed"})


def _generic(s: _Story) -> str:
    """Any other action: "Rita Reception: series replanned (Paola Patient's Mesotherapy, face on ...)"."""
    words = s.event.action.replace("_", " ").replace(".", ": ", 1)
    subject = ""
    if s.event.appointment_id:
        subject = f" ({s.patient}'s {s.appointment()})"
    elif s.event.patient_id:
        subject = f" ({s.patient})"
    elif s.event.entity_type not in ("", None):
        subject = f" ({s.entity()})"
    return f"{s.actor}: {words}{subject}"


def sentence(event: AuditEvent, names: Names, tz: str) -> str:
    """One event as an English sentence with names and clinic-local times, ending with the rule
    codes staff overrode and their reason. Never raises: an odd snapshot gets the generic sentence."""
    story = _Story(event, names, tz)
    try:
        text = SENTENCES.get(event.action, _generic)(story)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        text = _generic(story)
    codes = _overridden(story.after)
    notes = []
    if codes:
        notes.append(f"override: {', '.join(codes)}")
    if event.reason and event.reason.strip():
        notes.append(f"reason: {_quoted(event.reason)}")
    return f"{text} ({', '.join(notes)})" if notes else text


def _overridden(snap: dict) -> tuple[str, ...]:
    """The rule codes staff overrode, from a snapshot."""
    codes = snap.get("overridden")
    return tuple(str(c) for c in codes) if isinstance(codes, list) else ()


def _shown(value: Any, tz: str) -> str:
    """A snapshot value as text: moments in clinic time, lists joined, yes/no, "—" for nothing."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and "T" in value:
        moment = _moment(value)
        if moment is not None:
            return clinic_time(moment, tz)
    if isinstance(value, list):
        return ", ".join(_shown(v, tz) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_shown(v, tz)}" for k, v in value.items())
    return str(value)


def _changes(event: AuditEvent, names: Names, tz: str) -> tuple[Change, ...]:
    """The fields an edit changed, before and after, as text (none when the sentence tells it all)."""
    if event.action in SENTENCES and event.action not in SHOWS_CHANGES:
        return ()
    before, after = _snapshots(event)
    keys = changed_keys(before, after) if before and after else list(before or after)

    def shown(snap: dict, key: str) -> str:
        value = snap.get(key)
        if key == "treatments" and isinstance(value, list):
            value = [names.slugs.get(v, v) if isinstance(v, str) else v for v in value]
        return _shown(value, tz)

    return tuple(Change(k.replace("_", " "), shown(before, k) if before else "", shown(after, k) if after else "")
                 for k in keys)


def describe_events(events: list[AuditEvent]) -> list[Entry]:
    """A page of events as the audit page shows them: a sentence each, in clinic time, with names
    loaded in a fixed number of queries."""
    tz = get_settings().timezone
    names = load_names(events)
    entries = []
    for event in events:
        actor = names.users.get(event.actor_id) if event.actor_id else None
        moment = _moment(event.at)
        entries.append(Entry(
            event=event,
            when=clinic_time(moment, tz) if moment else "",
            sentence=sentence(event, names, tz),
            actor=actor[0] if actor else "system",
            actor_role=actor[1] if actor else None,
            patient=names.users.get(event.patient_id, ("a patient", ""))[0] if event.patient_id else None,
            overridden=_overridden(readable(event.action, event.after) or {}),
            changes=_changes(event, names, tz),
        ))
    return entries


def list_outbox(status: str = "", *, page: int = 1) -> Page:
    """Outbox messages, newest first, optionally of one status."""
    query = select(OutboxMessage)
    if status:
        query = query.where(OutboxMessage.status == status)
    page = min(max(page, 1), 100_000)
    rows = list(db.session.scalars(query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
                                   .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return Page(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)


def outbox_counts() -> dict[str, int]:
    """How many messages are in each status."""
    rows = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: count for status, count in rows}


def failed_messages(limit: int = 5) -> tuple[int, list[OutboxMessage]]:
    """How many messages failed for good, and the newest ``limit`` of them (the admin overview)."""
    failed = OutboxMessage.status == "failed"
    count = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(failed)) or 0
    rows = list(db.session.scalars(select(OutboxMessage).where(failed)
                                   .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)))
    return count, rows


def retry_message(actor: Actor, message_id: int, *, now: datetime | None = None) -> bool:
    """Queue a failed message again (the sender's own transaction), then audit who asked."""
    require_front_desk(actor)
    if not sender.retry_failed(message_id, now=now):
        return False
    message = db.session.get(OutboxMessage, message_id)
    audit.record("outbox.retried", actor_id=actor.user_id, entity_type="outbox_message", entity_id=message_id,
                 appointment_id=message.appointment_id if message else None,
                 before={"status": "failed"}, after={"status": "queued"})
    db.session.commit()
    return True
