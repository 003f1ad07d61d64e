"""Reading the audit log and the outbox for the staff pages, and retrying failed mail.

The audit page tells each event as one sentence with names and clinic-local times
(``describe_events``); the names a page needs are loaded in one query per kind of thing
(``load_names``), so a page costs the same few queries however many events it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable

from babel import Locale
from babel.dates import format_date, format_datetime
from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
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
        raise Forbidden(gettext("Only reception and administrators read the audit log."))
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
        raise InvalidRequest(gettext("The end date is before the start date."))
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


def _locale() -> Locale:
    """The language of the request (English outside one)."""
    return get_locale() or Locale.parse("en")


def clinic_time(moment: datetime, tz: str, *, year: bool = True) -> str:
    """"Tue 8 Dec 2026, 10:15" on the clinic's wall clock (without the year: "Tue 8 Dec, 10:15"),
    in the request's language ("mar 8 dic 2026, 10:15")."""
    local = to_local(moment, tz)
    return format_datetime(local, "EEE d MMM y, HH:mm" if year else "EEE d MMM, HH:mm", tzinfo=local.tzinfo,
                           locale=_locale())


def _quoted(text: Any) -> str:
    """Free text in quotes, shortened."""
    text = " ".join(str(text).split())
    return f"“{text[:200]}{'…' if len(text) > 200 else ''}”"


def _day(value: Any) -> str:
    """A stored ISO date as "Tue 8 Dec 2026"."""
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return gettext("an unknown day")
    return format_date(day, "EEE d MMM y", locale=_locale())


def _role(role: str | None) -> str:
    """A role as people read it ("receptionist"), in the request's language."""
    names = {"admin": gettext("admin"), "receptionist": gettext("receptionist"),
             "practitioner": gettext("practitioner"), "patient": gettext("patient")}
    return names.get(role or "", role or "")


def _told(template: Any, **values: Any) -> str:
    """A lazily translated sentence with ``%(name)s`` placeholders, in the request's language."""
    return str(template) % values


class _Story:
    """What one event's sentence is made of: the names and clinic-local times it mentions."""

    def __init__(self, event: AuditEvent, names: Names, tz: str) -> None:
        self.event, self.names, self.tz = event, names, tz
        self.before, self.after = _snapshots(event)

    def person(self, user_id: int | None, fallback: str | None = None) -> str:
        """A user's name."""
        fallback = fallback if fallback is not None else gettext("someone")
        return self.names.users.get(user_id, (fallback, ""))[0] if user_id is not None else fallback

    @property
    def actor(self) -> str:
        """Who did it ("The system" for jobs and the demo)."""
        return self.person(self.event.actor_id) if self.event.actor_id else gettext("The system")

    @property
    def patient(self) -> str:
        """The patient's current name (an erased patient is "Erased patient")."""
        return self.person(self.event.patient_id, gettext("a patient"))

    @property
    def by_patient(self) -> bool:
        """The patient acted on their own record."""
        return self.event.actor_id is not None and self.event.actor_id == self.event.patient_id

    def when(self, value: Any) -> str:
        """A moment in a sentence, clinic time, with the year only when it differs from the event's."""
        moment = _moment(value)
        if moment is None:
            return gettext("an unknown time")
        event_year = to_local(_moment(self.event.at) or moment, self.tz).year
        return clinic_time(moment, self.tz, year=to_local(moment, self.tz).year != event_year)

    def treatment(self, slug: Any = None) -> str:
        """A treatment's name from a slug (or the appointment's treatment)."""
        if isinstance(slug, str):
            return self.names.slugs.get(slug, slug)
        facts = self.names.appointments.get(self.event.appointment_id)
        fallback = gettext("appointment")
        return self.names.treatments.get(facts.treatment_id, fallback) if facts else fallback

    def practitioner(self, practitioner_id: Any) -> str:
        """A practitioner's name."""
        return self.names.practitioners.get(_as_id(practitioner_id)) or gettext("a practitioner")

    def room(self, room_id: Any) -> str:
        """A room's name."""
        return self.names.rooms.get(_as_id(room_id)) or gettext("a room")

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
        values = {"treatment": self.treatment(), "when": self.when(start),
                  "practitioner": self.practitioner(practitioner_id)}
        if isinstance(index, int) and not isinstance(index, bool):
            return gettext("%(treatment)s (session %(number)s) on %(when)s with %(practitioner)s",
                           number=index + 1, **values)
        return gettext("%(treatment)s on %(when)s with %(practitioner)s", **values)

    def patients_appointment(self) -> str:
        """"Paola Patient's Mesotherapy, face on ..."."""
        return gettext("%(patient)s's %(appointment)s", patient=self.patient, appointment=self.appointment())

    def entity(self) -> str:
        """The thing an event is about, by name."""
        kind, entity_id = self.event.entity_type, self.event.entity_id
        if kind == "user":
            return self.person(entity_id, gettext("account #%(id)s", id=entity_id))
        if kind == "practitioner":
            return self.practitioner(entity_id)
        if kind == "room":
            return self.room(entity_id)
        if kind == "treatment":
            return self.names.treatments.get(entity_id) or gettext("a treatment")
        if kind == "appointment":
            return self.patients_appointment()
        return kind.replace("_", " ")

    def span(self, snap: dict, start: str = "start", end: str = "end") -> str:
        """"from Tue 8 Dec, 10:00 to Wed 9 Dec, 18:00"."""
        return gettext("from %(start)s to %(end)s", start=self.when(snap.get(start)), end=self.when(snap.get(end)))

    def note(self, snap: dict, key: str) -> str:
        """A free-text field of a snapshot in quotes after a sentence, when there is one."""
        text = snap.get(key)
        return f" ({_quoted(text)})" if isinstance(text, str) and text.strip() else ""

    def fields(self) -> str:
        """The changed fields of an update, as words."""
        keys = [k for k in changed_keys(self.before, self.after) if k != "password_changed"]
        words = [_field_name(k.replace("_id", "")) for k in keys]
        if self.after.get("password_changed"):
            words.append(gettext("password"))
        return f": {', '.join(words)}" if words else ""


# The fields of the snapshots staff see named on the audit page; any other key is shown as
# written, its underscores as spaces.
FIELD_NAMES = {
    "name": _l("name"), "email": _l("email"), "phone": _l("phone"), "role": _l("role"), "active": _l("active"),
    "password": _l("password"), "timezone": _l("timezone"), "currency": _l("currency"), "country": _l("country"),
    "region": _l("region"), "address": _l("address"), "default_locale": _l("default locale"),
    "messages_off": _l("messages off"), "horizon_days": _l("horizon days"),
    "min_notice_hours": _l("min notice hours"), "cancel_cutoff_hours": _l("cancel cutoff hours"),
    "slot_step_minutes": _l("slot step minutes"), "reminder_hours": _l("reminder hours"),
    "show_treatment_in_invites": _l("show treatment in invites"), "primary_color": _l("primary color"),
    "slug": _l("slug"), "description": _l("description"), "kind": _l("kind"), "body_area": _l("body area"),
    "duration_minutes": _l("duration minutes"), "buffer_before_minutes": _l("buffer before minutes"),
    "buffer_after_minutes": _l("buffer after minutes"), "needs_room": _l("needs room"), "color": _l("color"),
    "price_cents": _l("price cents"), "protocol": _l("protocol"), "sessions": _l("sessions"),
    "interval_min_days": _l("interval min days"), "interval_target_days": _l("interval target days"),
    "interval_max_days": _l("interval max days"), "consultation_treatment": _l("consultation treatment"),
    "consultation_min_days_before": _l("consultation min days before"),
    "consultation_valid_days": _l("consultation valid days"), "aftercare_hours": _l("aftercare hours"),
    "maintenance_interval_days": _l("maintenance interval days"), "contraindications": _l("contraindications"),
    "prep_confirm_hours": _l("prep confirm hours"), "prep_answer_by_hours": _l("prep answer by hours"),
    "instruction": _l("instruction"), "lead_hours": _l("lead hours"), "remind": _l("remind"), "hours": _l("hours"),
    "start": _l("start"), "end": _l("end"), "note": _l("note"), "reason": _l("reason"), "day": _l("day"),
    "treatments": _l("treatments"), "status": _l("status"),
}


def _field_name(key: str) -> str:
    """A snapshot key as a word in the request's language ("min_notice_hours" -> "min notice hours")."""
    name = FIELD_NAMES.get(key)
    return str(name) if name is not None else key.replace("_", " ")


def _booked(s: _Story) -> str:
    start, practitioner_id, room_id = s.slot(s.after)
    values = {"actor": s.actor, "patient": s.patient, "appointment": s.appointment(s.after)}
    if room_id:
        if s.by_patient:
            return gettext("%(actor)s booked their %(appointment)s in %(room)s", room=s.room(room_id), **values)
        return gettext("%(actor)s booked %(patient)s's %(appointment)s in %(room)s", room=s.room(room_id), **values)
    if s.by_patient:
        return gettext("%(actor)s booked their %(appointment)s", **values)
    return gettext("%(actor)s booked %(patient)s's %(appointment)s", **values)


def _moved(s: _Story) -> str:
    (old, old_by, old_room), (new, new_by, new_room) = s.slot(s.before), s.slot(s.after)
    values = {"actor": s.actor, "patient": s.patient, "treatment": s.treatment(), "old": s.when(old),
              "new": s.when(new)}
    if s.by_patient:
        text = gettext("%(actor)s moved their %(treatment)s from %(old)s to %(new)s", **values)
    else:
        text = gettext("%(actor)s moved %(patient)s's %(treatment)s from %(old)s to %(new)s", **values)
    # The optional clauses after the sentence: who (if it changed) and where (if it changed).
    if old_by != new_by:
        text += gettext(", from %(old)s to %(new)s", old=s.practitioner(old_by), new=s.practitioner(new_by))
    else:
        text += gettext(" with %(practitioner)s", practitioner=s.practitioner(new_by))
    if old_room != new_room and new_room:
        text += gettext(", now in %(room)s", room=s.room(new_room))
    return text


def _status(theirs: Any, others: Any | None = None) -> Callable[[_Story], str]:
    """A sentence about one appointment: ``theirs`` when the patient did it themselves, else
    ``others`` (lazy templates with %(actor)s, %(patient)s and %(appointment)s)."""
    def told(s: _Story) -> str:
        template = theirs if s.by_patient or others is None else others
        return _told(template, actor=s.actor, patient=s.patient, appointment=s.appointment())
    return told


def _series_booked(s: _Story) -> str:
    sessions = s.after.get("sessions")
    treatment = s.treatment(s.after.get("treatment"))
    values = {"actor": s.actor, "patient": s.patient, "treatment": treatment}
    if isinstance(sessions, int) and not isinstance(sessions, bool):
        if s.by_patient:
            return ngettext("%(actor)s booked a series of %(num)d %(treatment)s session for themselves",
                            "%(actor)s booked a series of %(num)d %(treatment)s sessions for themselves",
                            sessions, **values)
        return ngettext("%(actor)s booked a series of %(num)d %(treatment)s session for %(patient)s",
                        "%(actor)s booked a series of %(num)d %(treatment)s sessions for %(patient)s",
                        sessions, **values)
    if s.by_patient:
        return gettext("%(actor)s booked a series of %(treatment)s sessions for themselves", **values)
    return gettext("%(actor)s booked a series of %(treatment)s sessions for %(patient)s", **values)


def _intake(s: _Story) -> str:
    ruled = [s.treatment(slug) for slug in s.after.get("rules_out") or [] if isinstance(slug, str)]
    outcome = (gettext("it rules out %(treatments)s", treatments=", ".join(ruled)) if ruled
               else gettext("it rules out no treatment"))
    values = {"actor": s.actor, "patient": s.patient, "outcome": outcome}
    if not s.before:
        if s.by_patient:
            return gettext("%(actor)s filled in their health questionnaire; %(outcome)s", **values)
        return gettext("%(actor)s filled in %(patient)s's health questionnaire; %(outcome)s", **values)
    if s.by_patient:
        return gettext("%(actor)s updated their health questionnaire; %(outcome)s", **values)
    return gettext("%(actor)s updated %(patient)s's health questionnaire; %(outcome)s", **values)


def _patient_created(s: _Story) -> str:
    if "email" in s.after and not s.after["email"]:
        return gettext("%(actor)s added the patient %(patient)s (no e-mail address: phone only)",
                       actor=s.actor, patient=s.patient)
    return gettext("%(actor)s added the patient %(patient)s", actor=s.actor, patient=s.patient)


def _feed_target(s: _Story, snap: dict) -> str:
    scope, target = snap.get("scope"), snap.get("target_id")
    if scope == "patient":
        return gettext("the appointments of %(patient)s", patient=s.person(_as_id(target), gettext("a patient")))
    if scope == "practitioner":
        return gettext("%(practitioner)s's diary", practitioner=s.practitioner(target))
    if scope == "room":
        return gettext("%(room)s's bookings", room=s.room(target))
    return gettext("the whole clinic")


def _user_saved(s: _Story) -> str:
    if not s.before:
        role = s.after.get("role")
        if role:
            return gettext("%(actor)s created the account of %(name)s (%(role)s)", actor=s.actor, name=s.entity(),
                           role=_role(role))
        return gettext("%(actor)s created the account of %(name)s", actor=s.actor, name=s.entity())
    return gettext("%(actor)s changed the account of %(name)s%(fields)s", actor=s.actor, name=s.entity(),
                   fields=s.fields())


def _exception_added(s: _Story) -> str:
    if s.after.get("start"):
        text = gettext("%(actor)s set special hours for %(entity)s on %(day)s: %(start)s–%(end)s", actor=s.actor,
                       entity=s.entity(), day=_day(s.after.get("day")), start=s.after.get("start"),
                       end=s.after.get("end"))
    else:
        text = gettext("%(actor)s gave %(entity)s a day off on %(day)s", actor=s.actor, entity=s.entity(),
                       day=_day(s.after.get("day")))
    return text + s.note(s.after, "note")


def _exception_removed(s: _Story) -> str:
    return gettext("%(actor)s removed %(entity)s's special hours on %(day)s", actor=s.actor, entity=s.entity(),
                   day=_day(s.before.get("day"))) + s.note(s.before, "note")


def _removed(template: Any) -> Callable[[_Story], str]:
    """A removed time off or closure: its span and reason from the removed row (``template``
    lazy, with %(actor)s, %(entity)s and %(span)s)."""
    def told(s: _Story) -> str:
        return (_told(template, actor=s.actor, entity=s.entity(), span=s.span(s.before, "start_at", "end_at"))
                + s.note(s.before, "reason"))
    return told


def _callback(s: _Story) -> str:
    slug = s.after.get("treatment")
    return gettext("%(patient)s asked to be called back about %(treatment)s", patient=s.patient,
                   treatment=s.treatment(slug) if slug else gettext("a treatment"))


def _saved(added: Any, changed: Any, *, named: bool) -> Callable[[_Story], str]:
    """A room or treatment added (``added``) or changed (``changed``): lazy templates with
    %(actor)s, %(name)s and %(fields)s; ``named``: the snapshot holds the thing's name."""
    def told(s: _Story) -> str:
        name = s.after.get("name") if named and isinstance(s.after.get("name"), str) else s.entity()
        if not s.before:
            return _told(added, actor=s.actor, name=name)
        return _told(changed, actor=s.actor, name=name, fields=s.fields())
    return told


def _prep_rule(template: Any, snap_key: str) -> Callable[[_Story], str]:
    """A prep step added or removed (``template`` lazy, with %(actor)s, %(entity)s, %(instruction)s)."""
    def told(s: _Story) -> str:
        snap = s.after if snap_key == "after" else s.before
        hours = snap.get("lead_hours")
        lead = gettext(", %(hours)s h before", hours=hours) if isinstance(hours, int) else ""
        return _told(template, actor=s.actor, entity=s.entity(),
                     instruction=_quoted(snap.get("instruction", ""))) + lead
    return told


def _prep_rule_changed(s: _Story) -> str:
    return gettext("%(actor)s changed the preparation step %(instruction)s%(fields)s", actor=s.actor,
                   instruction=_quoted(s.before.get("instruction", "")), fields=s.fields())


def _outbox_retried(s: _Story) -> str:
    if s.event.appointment_id:
        return gettext("%(actor)s queued a failed e-mail about %(appointment)s again", actor=s.actor,
                       appointment=s.patients_appointment())
    return gettext("%(actor)s queued a failed e-mail again", actor=s.actor)


def _prep_answered(s: _Story) -> str:
    status = s.after.get("status")
    outcome = {"prepared": gettext("every step done"), "needs_attention": gettext("a step not done"),
               "callback": gettext("asked for a call back")}.get(status) or gettext("answered")
    values = {"actor": s.actor, "patient": s.patient, "appointment": s.appointment(), "outcome": outcome}
    if s.by_patient:
        text = gettext("%(patient)s answered the prep checklist for their %(appointment)s: %(outcome)s", **values)
    elif s.after.get("via") == "link":
        text = gettext("%(patient)s answered the prep checklist for %(patient)s's %(appointment)s: %(outcome)s",
                       **values)
    else:
        text = gettext("%(actor)s recorded the prep checklist for %(patient)s's %(appointment)s: %(outcome)s",
                       **values)
    return text + (gettext(" (from the e-mailed link)") if s.after.get("via") == "link" else "")


def _course_set(s: _Story) -> str:
    sessions = s.after.get("sessions")
    if not sessions:
        return gettext("%(actor)s recorded that %(patient)s's series is not a prepaid course", actor=s.actor,
                       patient=s.patient)
    if s.after.get("expires_on"):
        return ngettext("%(actor)s recorded %(patient)s's series as a prepaid course of %(num)d session, to be "
                        "used by %(day)s",
                        "%(actor)s recorded %(patient)s's series as a prepaid course of %(num)d sessions, to be "
                        "used by %(day)s", sessions, actor=s.actor, patient=s.patient,
                        day=_day(s.after["expires_on"]))
    return ngettext("%(actor)s recorded %(patient)s's series as a prepaid course of %(num)d session",
                    "%(actor)s recorded %(patient)s's series as a prepaid course of %(num)d sessions",
                    sessions, actor=s.actor, patient=s.patient)


def _settings_changed(s: _Story) -> str:
    if s.before:
        return gettext("%(actor)s changed the clinic settings%(fields)s", actor=s.actor, fields=s.fields())
    return gettext("%(actor)s set up the clinic settings", actor=s.actor)


def _aftercare_rule_added(s: _Story) -> str:
    text = gettext("%(actor)s added an aftercare step to %(entity)s: %(instruction)s", actor=s.actor,
                   entity=s.entity(), instruction=_quoted(s.after.get("instruction", "")))
    hours = s.after.get("hours")
    return text + (gettext(", %(hours)s h", hours=hours) if isinstance(hours, int) else "")


def _demo_seeded(s: _Story) -> str:
    count = s.after.get("appointments")
    if isinstance(count, int) and not isinstance(count, bool):
        return ngettext("The demo data was loaded (%(num)d appointment)",
                        "The demo data was loaded (%(num)d appointments)", count)
    return gettext("The demo data was loaded")


# Every action the services write (grep ``audit.record``), told as a sentence in the request's
# language; an action not listed here gets ``_generic``. Templates are lazy: they are
# translated when a page is told, never when this module is imported.
SENTENCES: dict[str, Callable[[_Story], str]] = {
    "appointment.booked": _booked,
    "appointment.moved": _moved,
    "appointment.cancelled": _status(_l("%(actor)s cancelled their %(appointment)s"),
                                     _l("%(actor)s cancelled %(patient)s's %(appointment)s")),
    "appointment.checked_in": _status(_l("%(actor)s checked in %(patient)s for %(appointment)s")),
    "appointment.completed": _status(_l("%(actor)s marked their %(appointment)s as completed"),
                                     _l("%(actor)s marked %(patient)s's %(appointment)s as completed")),
    "appointment.no_show": _status(_l("%(actor)s marked their %(appointment)s as a no-show"),
                                   _l("%(actor)s marked %(patient)s's %(appointment)s as a no-show")),
    "appointment.prep_acknowledged": _status(
        _l("%(actor)s confirmed the preparation steps for their %(appointment)s"),
        _l("%(actor)s confirmed the preparation steps for %(patient)s's %(appointment)s")),
    "appointment.invite_resent": _status(
        _l("%(actor)s sent the calendar invite for their %(appointment)s again"),
        _l("%(actor)s sent the calendar invite for %(patient)s's %(appointment)s again")),
    "series.booked": _series_booked,
    "patient.registered": lambda s: gettext("%(patient)s registered an account", patient=s.patient),
    "patient.created": _patient_created,
    "patient.erased": lambda s: gettext("%(actor)s erased the personal data of a patient (now shown as %(patient)s)",
                                        actor=s.actor, patient=s.patient),
    "patient.erasure_requested": lambda s: gettext("%(patient)s asked for their personal data to be erased",
                                                   patient=s.patient),
    "patient.callback_requested": _callback,
    "patient.cleared": lambda s: gettext("%(actor)s cleared %(patient)s for %(treatment)s", actor=s.actor,
                                         patient=s.patient, treatment=s.treatment(s.after.get("treatment"))),
    "intake.saved": _intake,
    "password.reset": lambda s: gettext("%(actor)s reset their password with an e-mailed link", actor=s.actor),
    "feed.created": lambda s: gettext("%(actor)s created a calendar subscription link for %(target)s",
                                      actor=s.actor, target=_feed_target(s, s.after)),
    "feed.revoked": lambda s: gettext("%(actor)s revoked a calendar subscription link for %(target)s",
                                      actor=s.actor, target=_feed_target(s, s.before)),
    "settings.changed": _settings_changed,
    "user.saved": _user_saved,
    "schedule.hours_changed": lambda s: gettext("%(actor)s changed the weekly hours of %(entity)s", actor=s.actor,
                                                entity=s.entity()),
    "schedule.exception_added": _exception_added,
    "schedule.time_off_added": lambda s: (gettext("%(actor)s added time off for %(entity)s %(span)s", actor=s.actor,
                                                  entity=s.entity(), span=s.span(s.after))
                                          + s.note(s.after, "reason")),
    "schedule.room_closed": lambda s: (gettext("%(actor)s closed %(entity)s %(span)s", actor=s.actor,
                                               entity=s.entity(), span=s.span(s.after))
                                       + s.note(s.after, "reason")),
    "schedule.clinic_closed": lambda s: (gettext("%(actor)s closed the clinic %(span)s", actor=s.actor,
                                                 span=s.span(s.after))
                                         + s.note(s.after, "reason")),
    "schedule.exception_removed": _exception_removed,
    "schedule.time_off_removed": _removed(_l("%(actor)s removed %(entity)s's time off %(span)s")),
    "schedule.room_closure_removed": _removed(_l("%(actor)s reopened %(entity)s: removed its closure %(span)s")),
    "schedule.clinic_closure_removed": _removed(_l("%(actor)s removed the clinic closure %(span)s")),
    "schedule.room_saved": _saved(_l("%(actor)s added the room %(name)s"),
                                  _l("%(actor)s changed the room %(name)s%(fields)s"), named=True),
    "schedule.practitioner_saved": lambda s: gettext("%(actor)s changed %(entity)s's bookings settings%(fields)s",
                                                     actor=s.actor, entity=s.entity(), fields=s.fields()),
    "catalog.treatment_saved": _saved(_l("%(actor)s added the treatment %(name)s"),
                                      _l("%(actor)s changed the treatment %(name)s%(fields)s"), named=True),
    "catalog.prep_rule_added": _prep_rule(_l("%(actor)s added a preparation step to %(entity)s: %(instruction)s"),
                                          "after"),
    "catalog.prep_rule_changed": _prep_rule_changed,
    "catalog.prep_rule_removed": _prep_rule(
        _l("%(actor)s removed a preparation step from %(entity)s: %(instruction)s"), "before"),
    "outbox.retried": _outbox_retried,
    # The course after booking (issue 14).
    "prep.answered": _prep_answered,
    "series.course_set": _course_set,
    "series.session_rebooked": _status(_l("%(actor)s booked a cancelled session of their series again"),
                                       _l("%(actor)s booked a cancelled session of %(patient)s's series again")),
    "recall.created": lambda s: gettext("%(patient)s completed a series and is due for maintenance from %(day)s",
                                        patient=s.patient, day=_day(s.after.get("due_on"))),
    "recall.booked": _status(_l("%(patient)s booked their maintenance: %(appointment)s")),
    "recall.declined": lambda s: gettext("%(actor)s recorded that %(patient)s declined maintenance for now",
                                         actor=s.actor, patient=s.patient),
    "catalog.aftercare_rule_added": _aftercare_rule_added,
    "catalog.aftercare_rule_removed": lambda s: gettext(
        "%(actor)s removed an aftercare step from %(entity)s: %(instruction)s", actor=s.actor, entity=s.entity(),
        instruction=_quoted(s.before.get("instruction", ""))),
    "demo.seeded": _demo_seeded,
}
# Edits whose sentence names the changed fields but not their values: the entry lists them,
# before and after. Every other known action's sentence says all the page shows of it; an
# unknown action lists its snapshot too.
SHOWS_CHANGES = frozenset({"settings.changed", "user.saved", "schedule.hours_changed", "schedule.room_saved",
                           "schedule.practitioner_saved", "catalog.treatment_saved", "catalog.prep_rule_changed"})


def _generic(s: _Story) -> str:
    """Any other action: "Rita Reception: series replanned (Paola Patient's Mesotherapy, face on ...)";
    the action's own words stay as its code spells them."""
    words = s.event.action.replace("_", " ").replace(".", ": ", 1)
    subject = ""
    if s.event.appointment_id:
        subject = f" ({s.patients_appointment()})"
    elif s.event.patient_id:
        subject = f" ({s.patient})"
    elif s.event.entity_type not in ("", None):
        subject = f" ({s.entity()})"
    return f"{s.actor}: {words}{subject}"


def sentence(event: AuditEvent, names: Names, tz: str) -> str:
    """One event as a sentence in the request's language (English outside a request) with names
    and clinic-local times, ending with the rule codes staff overrode and their reason. Never
    raises: an odd snapshot gets the generic sentence."""
    story = _Story(event, names, tz)
    try:
        text = SENTENCES.get(event.action, _generic)(story)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        text = _generic(story)
    codes = _overridden(story.after)
    notes = []
    if codes:
        notes.append(gettext("override: %(codes)s", codes=", ".join(codes)))
    if event.reason and event.reason.strip():
        notes.append(gettext("reason: %(reason)s", reason=_quoted(event.reason)))
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
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and "T" in value:
        moment = _moment(value)
        if moment is not None:
            return clinic_time(moment, tz)
    if isinstance(value, list):
        return ", ".join(_shown(v, tz) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{_field_name(k)}: {_shown(v, tz)}" for k, v in value.items())
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

    return tuple(Change(_field_name(k), shown(before, k) if before else "", shown(after, k) if after else "")
                 for k in keys)


def describe_events(events: list[AuditEvent]) -> list[Entry]:
    """A page of events as the audit page shows them: a sentence each in the request's language,
    in clinic time, with names loaded in a fixed number of queries."""
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
            actor=actor[0] if actor else gettext("system"),
            actor_role=_role(actor[1]) if actor else None,
            patient=names.users.get(event.patient_id, (gettext("a patient"), ""))[0] if event.patient_id else None,
            overridden=_overridden(readable(event.action, event.after) or {}),
            changes=_changes(event, names, tz),
        ))
    return entries


# The outbox's message kinds as staff read them (the kind itself stays a stable code); the
# course's own kinds share ``course.MESSAGE_KINDS``'s names on the settings page.
KIND_NAMES = {
    "appointment.booked": _l("Booking confirmation"),
    "appointment.moved": _l("Appointment moved"),
    "appointment.invite_resent": _l("Calendar invite sent again"),
    "appointment.cancelled": _l("Cancellation"),
    "appointment.reminder": _l("Appointment reminder"),
    "appointment.prep_reminder": _l("Preparation reminder"),
    "series.booked": _l("Series confirmation"),
    "account.registration_attempt": _l("Registration attempt on an existing account"),
    "password.reset": _l("Password reset"),
    "patient.callback": _l("Call-back request"),
    "patient.erasure_requested": _l("Erasure request"),
    "offer.waitlist": _l("Waitlist offer"),
    "offer.replan": _l("New times offered after a change"),
    "prep.confirm": _l("Prep confirmation request"),
    "aftercare": _l("Aftercare"),
    "recall.invite": _l("Maintenance invitation"),
    "recall.reminder": _l("Maintenance reminder"),
}


def kind_name(kind: str) -> str:
    """An outbox message's kind as staff read it, in the request's language (the code itself
    for a kind without a name)."""
    name = KIND_NAMES.get(kind)
    return str(name) if name is not None else kind


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
