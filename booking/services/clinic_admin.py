"""Administering the clinic's settings, the staff accounts and roles, and patients' erasure requests.

One transaction and one audit event (with before/after) per change. Passwords never enter the
audit log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext, ngettext
from sqlalchemy import func, select, update

from booking.database import begin_write
from booking.extensions import db
from booking.models import (
    AftercareRule,
    ApiToken,
    Clearance,
    ClinicSettings,
    FeedToken,
    Intake,
    Practitioner,
    PrepRule,
    Treatment,
    User,
)
from booking.models.base import utcnow
from booking.services import audit, tokens
from booking.services.actor import Actor
from booking.services.catalog_admin import columns
from booking.services.errors import InvalidRequest, NotFound
from booking.services.holidays import check_place
from booking.services.patients import EmailTaken, erase_traces, normalise_email
from booking.services.reception import upcoming_for
from booking.services.schedule_admin import require_admin
from booking.services.translated import check_language

SETTINGS_FIELDS = ("name", "timezone", "phone", "email", "address", "horizon_days", "min_notice_hours",
                   "cancel_cutoff_hours", "slot_step_minutes", "reminder_hours", "show_treatment_in_invites",
                   "primary_color", "country", "region", "currency", "messages_off", "default_locale")
USER_FIELDS = ("name", "email", "phone", "role", "active")


def save_settings(actor: Actor, values: Mapping[str, Any]) -> ClinicSettings:
    """Update the clinic's settings row (creating it the first time)."""
    require_admin(actor)
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        raise InvalidRequest(gettext("Give an IANA time zone such as Europe/Rome."), code="unknown_timezone") from None
    # Where the clinic is, for its public holidays, as the holidays package spells it.
    country, region = check_place(values["country"], values.get("region") or "")
    currency = (values["currency"] or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise InvalidRequest(gettext("Give the currency as a three-letter ISO code such as EUR."),
                             code="unknown_currency")
    values = {**values, "country": country, "region": region, "currency": currency,
              # Optional text left empty (or out of the post) is stored as "", never NULL.
              **{name: (values.get(name) or "").strip() for name in ("phone", "email", "address")}}
    from booking.services.course import MESSAGE_KINDS

    if values.get("default_locale"):
        check_language(values["default_locale"])
    unknown = set(values.get("messages_off") or []) - set(MESSAGE_KINDS)
    if unknown:
        raise InvalidRequest(ngettext("Unknown message kind: %(kinds)s.", "Unknown message kinds: %(kinds)s.",
                                      len(unknown), kinds=", ".join(sorted(unknown))), code="unknown_message_kind")
    begin_write(db.session)
    settings = db.session.get(ClinicSettings, 1)
    if settings is None:
        settings = ClinicSettings(id=1)
        db.session.add(settings)
        before = None
    else:
        before = columns(settings, SETTINGS_FIELDS)
    old_language = settings.default_locale
    for name in SETTINGS_FIELDS:
        if name == "default_locale" and not values.get(name):
            continue  # no language given: the clinic keeps its default language
        if name == "messages_off" and name not in values:
            continue  # the course's message switches keep their values when not given
        setattr(settings, name, list(values[name] or []) if name == "messages_off" else values[name])
    if old_language and settings.default_locale != old_language:
        _switch_texts(settings, old_language, settings.default_locale)
    db.session.flush()
    audit.record("settings.changed", actor_id=actor.user_id, entity_type="clinic_settings", entity_id=1,
                 before=before, after=columns(settings, SETTINGS_FIELDS))
    db.session.commit()
    return settings


def _switch_texts(settings: ClinicSettings, old: str, new: str) -> None:
    """The clinic now writes in ``new``: every text it wrote in ``new`` becomes the default one
    and the one it replaces is kept in ``old`` (same transaction as the setting)."""
    settings.switch_default_language(old, new)
    for model in (Treatment, PrepRule, AftercareRule):
        for row in db.session.scalars(select(model)).all():
            row.switch_default_language(old, new)


def _email_free(email: str, user_id: int | None) -> None:
    """EmailTaken when another account uses ``email``."""
    clash = db.session.scalar(select(func.count()).select_from(User)
                              .where(User.email == email, User.id != (user_id or 0)))
    if clash:
        raise EmailTaken(gettext("Another account already uses this e-mail."))


def _ensure_practitioner_row(user: User) -> None:
    """A practitioner account needs its schedule row (no hours until the admin sets them)."""
    if user.role == "practitioner" and user.practitioner is None:
        db.session.add(Practitioner(user=user))


def save_user(actor: Actor, user_id: int | None, *, values: Mapping[str, Any], password: str | None) -> User:
    """Create an account or change one's name, e-mail, phone, role, active flag or password."""
    require_admin(actor)
    begin_write(db.session)
    email = normalise_email(values["email"])
    _email_free(email, user_id)
    if user_id is None:
        if not password:
            raise InvalidRequest(gettext("A new account needs a password."), code="password_required")
        user, before = User(), None
        db.session.add(user)
    else:
        user = db.session.get(User, user_id)
        if user is None:
            raise NotFound(gettext("There is no user %(id)s.", id=user_id))
        before = columns(user, USER_FIELDS)
        if user.id == actor.user_id and (values["role"] != "admin" or not values["active"]):
            raise InvalidRequest(gettext("You cannot remove your own administrator access; ask another administrator."),
                                 code="own_access")
    for name in USER_FIELDS:
        setattr(user, name, values[name])
    user.email, user.name, user.phone = email, values["name"].strip(), (values.get("phone") or "").strip()
    if password:
        user.set_password(password)
        if before is not None:
            tokens.end_all_sessions(user)  # sessions, remember cookies and API tokens of the old one
    _ensure_practitioner_row(user)
    if user.practitioner is not None and user.role != "practitioner":
        user.practitioner.active = False  # keeps the history; no new bookings
    db.session.flush()
    after = columns(user, USER_FIELDS) | ({"password_changed": True} if password and before else {})
    audit.record("user.saved", actor_id=actor.user_id, entity_type="user", entity_id=user.id, before=before,
                 after=after, patient_id=user.id if user.role == "patient" else None)
    db.session.commit()
    return user


def erasure_requests() -> list[User]:
    """Patients who asked to be erased and are not erased yet, oldest request first."""
    return list(db.session.scalars(
        select(User).where(User.erasure_requested_at.is_not(None), User.role == "patient", User.active.is_(True))
        .order_by(User.erasure_requested_at)
    ))


def confirm_erasure(actor: Actor, patient_id: int) -> User:
    """Erase a patient's personal data; appointments stay (as "Erased patient") for the clinic's records.

    Refused while the patient has upcoming bookings: cancel or keep those first.
    """
    require_admin(actor)
    begin_write(db.session)
    user = db.session.get(User, patient_id)
    if user is None or user.role != "patient" or user.erasure_requested_at is None:
        raise NotFound(gettext("There is no pending erasure request for this patient."))
    if not user.active:
        raise InvalidRequest(gettext("This patient was already erased."), code="already_erased")
    upcoming = upcoming_for(user.id)
    if upcoming:
        raise InvalidRequest(ngettext("%(name)s still has %(num)d upcoming appointment; cancel it before erasing "
                                      "the account.",
                                      "%(name)s still has %(num)d upcoming appointments; cancel them before "
                                      "erasing the account.", len(upcoming), name=user.name), code="has_upcoming")
    personal = (user.name, user.email, user.phone)
    user.name = "Erased patient"
    user.email = f"erased-{user.id}@erased.invalid"
    user.phone = ""
    user.password_hash = ""
    user.active = False
    for model in (Intake, Clearance):
        for row in db.session.scalars(select(model).where(model.patient_id == user.id)):
            db.session.delete(row)
    now = utcnow()
    db.session.execute(update(FeedToken).where(FeedToken.scope == "patient", FeedToken.target_id == user.id,
                                               FeedToken.revoked_at.is_(None)).values(revoked_at=now))
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=now))
    erase_traces(user.id, personal)  # audit, outbox, reasons: everywhere the patient was copied to
    audit.record("patient.erased", actor_id=actor.user_id, entity_type="user", entity_id=user.id,
                 patient_id=user.id, after={"erased_at": now.isoformat()})
    db.session.commit()
    return user
