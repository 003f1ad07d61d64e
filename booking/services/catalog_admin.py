"""Administering what the clinic offers and where: treatments with their protocol and prep rules,
rooms and the treatments they serve, practitioners' treatments and colour.

Each use case takes plain values (the form's data), runs in one transaction, and audits the
change with before/after snapshots of the columns it touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from booking.database import begin_write
from booking.extensions import db
from booking.models import AftercareRule, Practitioner, PrepRule, Protocol, Room, Treatment
from booking.services import audit
from booking.services.actor import Actor
from booking.services.errors import InvalidRequest, NotFound
from booking.services.feeds import PREP_RULE_CHANGED
from booking.services.schedule_admin import require_admin
from booking.services.translated import apply_step_translations, apply_translations, step_key

TREATMENT_FIELDS = ("slug", "name", "description", "kind", "body_area", "duration_minutes",
                    "buffer_before_minutes", "buffer_after_minutes", "needs_room", "color", "active")
PROTOCOL_FIELDS = ("sessions", "interval_min_days", "interval_target_days", "interval_max_days",
                   "consultation_treatment_id", "consultation_min_days_before", "consultation_valid_days",
                   "aftercare_hours", "maintenance_interval_days", "contraindications",
                   "prep_confirm_hours", "prep_answer_by_hours")


def columns(row: Any, names: Iterable[str]) -> dict[str, Any]:
    """The named attributes of a row, JSON-ready (for before/after snapshots)."""
    if row is None:
        return {}
    out = {}
    for name in names:
        # A translated text is kept in its default language (reading it gives the current one's).
        value = row.default_text(name) if name in getattr(row, "TRANSLATED_FIELDS", ()) else getattr(row, name)
        out[name] = list(value) if isinstance(value, list) else value
    return out


def _check_intervals(values: Mapping[str, Any]) -> None:
    """min <= target <= max, all given or none (the database repeats this rule)."""
    spacing = [values.get(k) for k in ("interval_min_days", "interval_target_days", "interval_max_days")]
    if any(v is not None for v in spacing):
        if any(v is None for v in spacing):
            raise InvalidRequest(gettext("Give the minimum, target and maximum interval together, or none of them."))
        low, target, high = spacing
        if not low <= target <= high:
            raise InvalidRequest(gettext("The intervals must satisfy minimum ≤ target ≤ maximum."))
    if (values.get("sessions") or 1) > 1 and spacing[0] is None:
        raise InvalidRequest(gettext("A series of more than one session needs its intervals."))


def save_treatment(actor: Actor, treatment_id: int | None, *, treatment: Mapping[str, Any],
                   protocol: Mapping[str, Any], translations: Mapping[str, Mapping[str, str | None]] | None = None,
                   step_translations: Mapping[str, Mapping[str, str | None]] | None = None) -> Treatment:
    """Create or update a treatment and its protocol.

    ``translations`` ({"it": {"name": ..., "description": ...}}) and ``step_translations``
    ({"prep-3": {"it": ...}, "aftercare-5": {...}}) set texts in other languages; an empty one
    falls back to the default language's, a language not given keeps its texts.
    """
    require_admin(actor)
    _check_intervals(protocol)
    begin_write(db.session)
    slug = treatment["slug"]
    clash = db.session.scalar(select(func.count()).select_from(Treatment)
                              .where(Treatment.slug == slug, Treatment.id != (treatment_id or 0)))
    if clash:
        raise InvalidRequest(gettext("Another treatment already uses the slug %(slug)r.", slug=slug), code="slug_taken")
    consultation_id = protocol.get("consultation_treatment_id")
    if consultation_id is not None:
        consultation = db.session.get(Treatment, consultation_id)
        if consultation is None or consultation.kind != "consultation" or consultation.id == treatment_id:
            raise InvalidRequest(gettext("The required consultation must be a consultation treatment."))
    if treatment_id is None:
        row, before = Treatment(), {}
    else:
        row = db.session.get(Treatment, treatment_id)
        if row is None:
            raise NotFound(gettext("There is no treatment %(id)s.", id=treatment_id))
        before = {**columns(row, TREATMENT_FIELDS + ("price_cents",)), "protocol": columns(row.protocol, PROTOCOL_FIELDS),
                  **_translations_of(row)}
    for name in TREATMENT_FIELDS:
        setattr(row, name, treatment[name])
    if "price_cents" in treatment:  # optional: a caller that does not send it keeps the price
        price = treatment["price_cents"]
        if price is not None and not 0 <= price < 10_000_000:
            raise InvalidRequest(gettext("A price must be between 0 and 99,999.99."))
        row.price_cents = price
    if row.protocol is None:
        row.protocol = Protocol()
    for name in PROTOCOL_FIELDS:
        setattr(row.protocol, name, protocol.get(name))
    apply_translations(row, translations or {})
    apply_step_translations(_steps_of(row), step_translations or {})
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise InvalidRequest(gettext("These values break a rule of the catalogue; check the numbers.")) from None
    audit.record("catalog.treatment_saved", actor_id=actor.user_id, entity_type="treatment", entity_id=row.id,
                 before=before or None,
                 after={**columns(row, TREATMENT_FIELDS + ("price_cents",)), "protocol": columns(row.protocol, PROTOCOL_FIELDS),
                        **_translations_of(row)})
    db.session.commit()
    return row


def _steps_of(row: Treatment) -> list[PrepRule | AftercareRule]:
    """A treatment's prep and aftercare steps."""
    protocol = row.protocol
    return [*protocol.prep_rules, *protocol.aftercare_rules] if protocol is not None else []


def _translations_of(row: Treatment) -> dict[str, Any]:
    """The texts of a treatment and its steps in other languages, for audit snapshots (only
    when there are any, so older snapshots compare the same)."""
    steps = {step_key(step): dict(step.translations) for step in _steps_of(row) if step.translations}
    return {name: value for name, value in (("translations", dict(row.translations or {})), ("step_translations", steps))
            if value}


def add_prep_rule(actor: Actor, treatment_id: int, *, instruction: str, lead_hours: int, remind: bool,
                  translations: Mapping[str, str | None] | None = None) -> PrepRule:
    """Add a prep step to a treatment's protocol (``translations``: its instruction in other
    languages, {"it": ...})."""
    require_admin(actor)
    begin_write(db.session)
    treatment = db.session.get(Treatment, treatment_id)
    if treatment is None or treatment.protocol is None:
        raise NotFound(gettext("Save the treatment's protocol first."))
    rule = PrepRule(protocol_id=treatment.protocol.id, instruction=instruction.strip(), lead_hours=lead_hours,
                    remind=remind)
    apply_translations(rule, {lang: {"instruction": text} for lang, text in (translations or {}).items()})
    db.session.add(rule)
    db.session.flush()
    audit.record("catalog.prep_rule_added", actor_id=actor.user_id, entity_type="treatment", entity_id=treatment.id,
                 after=columns(rule, ("id", "instruction", "lead_hours", "remind", "translations")))
    db.session.commit()
    return rule


def change_prep_rule(actor: Actor, rule_id: int, *, instruction: str, lead_hours: int, remind: bool) -> PrepRule:
    """Change a prep step's text, lead time or reminder.

    A change is audited as ``catalog.prep_rule_changed`` against the rule;
    patient feeds count those events as the rule's version (services.feeds), so the step's
    all-day event keeps its UID and gets a higher SEQUENCE.
    """
    require_admin(actor)
    begin_write(db.session)
    rule = db.session.get(PrepRule, rule_id)
    if rule is None:
        raise NotFound(gettext("That prep step no longer exists."))
    fields = ("instruction", "lead_hours", "remind")
    before = columns(rule, fields)
    rule.instruction, rule.lead_hours, rule.remind = instruction.strip(), lead_hours, remind
    after = columns(rule, fields)
    if after != before:
        audit.record(PREP_RULE_CHANGED, actor_id=actor.user_id, entity_type="prep_rule", entity_id=rule.id,
                     before=before, after=after)
    db.session.commit()
    return rule


def remove_prep_rule(actor: Actor, rule_id: int) -> int:
    """Remove a prep step; returns its treatment's id."""
    require_admin(actor)
    begin_write(db.session)
    rule = db.session.get(PrepRule, rule_id)
    if rule is None:
        raise NotFound(gettext("That prep step no longer exists."))
    treatment_id = rule.protocol.treatment_id
    before = columns(rule, ("id", "instruction", "lead_hours", "remind"))
    db.session.delete(rule)
    audit.record("catalog.prep_rule_removed", actor_id=actor.user_id, entity_type="treatment",
                 entity_id=treatment_id, before=before)
    db.session.commit()
    return treatment_id


def add_aftercare_rule(actor: Actor, treatment_id: int, *, instruction: str, hours: int,
                       translations: Mapping[str, str | None] | None = None) -> AftercareRule:
    """Add an aftercare step (what to avoid after a session, and for how long; ``translations``:
    its instruction in other languages); audited."""
    require_admin(actor)
    if not 1 <= hours <= 24 * 60:
        raise InvalidRequest(gettext("Aftercare lasts from 1 hour to 60 days."))
    begin_write(db.session)
    treatment = db.session.get(Treatment, treatment_id)
    if treatment is None or treatment.protocol is None:
        raise NotFound(gettext("Save the treatment's protocol first."))
    rule = AftercareRule(protocol_id=treatment.protocol.id, instruction=instruction.strip(), hours=hours)
    apply_translations(rule, {lang: {"instruction": text} for lang, text in (translations or {}).items()})
    db.session.add(rule)
    db.session.flush()
    audit.record("catalog.aftercare_rule_added", actor_id=actor.user_id, entity_type="treatment",
                 entity_id=treatment.id, after=columns(rule, ("id", "instruction", "hours", "translations")))
    db.session.commit()
    return rule


def remove_aftercare_rule(actor: Actor, rule_id: int) -> int:
    """Remove an aftercare step; returns its treatment's id."""
    require_admin(actor)
    begin_write(db.session)
    rule = db.session.get(AftercareRule, rule_id)
    if rule is None:
        raise NotFound(gettext("That aftercare step no longer exists."))
    treatment_id = rule.protocol.treatment_id
    before = columns(rule, ("id", "instruction", "hours"))
    db.session.delete(rule)
    audit.record("catalog.aftercare_rule_removed", actor_id=actor.user_id, entity_type="treatment",
                 entity_id=treatment_id, before=before)
    db.session.commit()
    return treatment_id


def _treatments(ids: Iterable[int]) -> list[Treatment]:
    """Treatments by id; InvalidRequest for an unknown one."""
    ids = list(ids)
    rows = list(db.session.scalars(select(Treatment).where(Treatment.id.in_(ids)))) if ids else []
    if len(rows) != len(set(ids)):
        raise InvalidRequest(gettext("One of the chosen treatments does not exist."))
    return rows


def save_room(actor: Actor, room_id: int | None, *, name: str, active: bool, treatment_ids: Iterable[int]) -> Room:
    """Create or update a room and the treatments it serves."""
    require_admin(actor)
    begin_write(db.session)
    name = name.strip()
    clash = db.session.scalar(select(func.count()).select_from(Room).where(Room.name == name,
                                                                            Room.id != (room_id or 0)))
    if clash:
        raise InvalidRequest(gettext("Another room is already called %(name)r.", name=name), code="name_taken")
    if room_id is None:
        room, before = Room(), None
        db.session.add(room)
    else:
        room = db.session.get(Room, room_id)
        if room is None:
            raise NotFound(gettext("There is no room %(id)s.", id=room_id))
        before = {"name": room.name, "active": room.active, "treatments": [t.slug for t in room.treatments]}
    room.name, room.active = name, active
    room.treatments = _treatments(treatment_ids)
    db.session.flush()
    audit.record("schedule.room_saved", actor_id=actor.user_id, entity_type="room", entity_id=room.id, before=before,
                 after={"name": room.name, "active": room.active, "treatments": [t.slug for t in room.treatments]})
    db.session.commit()
    return room


def save_practitioner(actor: Actor, practitioner_id: int, *, color: str, active: bool,
                      treatment_ids: Iterable[int]) -> Practitioner:
    """A practitioner's colour, whether they take bookings, and the treatments they give."""
    require_admin(actor)
    begin_write(db.session)
    practitioner = db.session.get(Practitioner, practitioner_id)
    if practitioner is None:
        raise NotFound(gettext("There is no practitioner %(id)s.", id=practitioner_id))
    before = {"color": practitioner.color, "active": practitioner.active,
              "treatments": [t.slug for t in practitioner.treatments]}
    practitioner.color, practitioner.active = color, active
    practitioner.treatments = _treatments(treatment_ids)
    db.session.flush()
    audit.record("schedule.practitioner_saved", actor_id=actor.user_id, entity_type="practitioner",
                 entity_id=practitioner.id, before=before,
                 after={"color": practitioner.color, "active": practitioner.active,
                        "treatments": [t.slug for t in practitioner.treatments]})
    db.session.commit()
    return practitioner
