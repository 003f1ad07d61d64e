"""Patient accounts: registration, the health questionnaire, call-back requests, their data,
erasure requests and password resets."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Text, cast, delete, or_, select
from sqlalchemy.orm import selectinload

from booking.database import begin_write
from booking.extensions import db
from booking.mail.outbox import enqueue
from booking.mail.rendering import written_for
from booking.models import (
    HELD,
    INTAKE_QUESTIONS,
    Appointment,
    AuditEvent,
    FeedToken,
    IdempotencyRecord,
    Intake,
    OutboxMessage,
    Protocol,
    Series,
    Treatment,
    User,
)
from booking.models.base import utcnow
from booking.mail import notifications
from booking.services import audit, tokens
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest, NotFound
from booking.services.loading import patient_facts

RESET_MAX_AGE = 60 * 60  # a reset link works for one hour


class EmailTaken(InvalidRequest):
    """Another account already uses this e-mail."""

    code = "email_taken"


def normalise_email(email: str) -> str:
    """Trimmed, lower-case e-mail."""
    return email.strip().lower()


def register_patient(*, name: str, email: str, phone: str, password: str) -> User | None:
    """Create a patient account in one transaction; None when the e-mail already has one.

    A taken e-mail changes nothing and mails the account's owner instead, so the visitor gets
    the same answer as for a new account and cannot learn who is a patient here.
    """
    begin_write(db.session)
    email = normalise_email(email)
    owner = db.session.scalar(select(User).where(User.email == email))
    if owner is not None:
        owner.check_password(password)  # as long as hashing a new account's password
        notifications.queue_registration_attempt(owner, get_settings())
        db.session.commit()
        return None
    user = User(name=name.strip(), email=email, phone=phone.strip(), role="patient")
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("patient.registered", actor_id=user.id, entity_type="user", entity_id=user.id,
                 patient_id=user.id, after={"email": email})
    db.session.commit()
    return user


def intake_of(patient_id: int) -> Intake | None:
    """The patient's questionnaire, if filled in."""
    return db.session.scalar(select(Intake).where(Intake.patient_id == patient_id))


def save_intake(patient_id: int, answers: dict[str, bool], notes: str = "") -> Intake:
    """Store (or replace) the patient's health questionnaire."""
    begin_write(db.session)
    unknown = set(answers) - set(INTAKE_QUESTIONS)
    if unknown:
        raise InvalidRequest(gettext("Unknown questions: %(codes)s.", codes=", ".join(sorted(unknown))))
    intake = intake_of(patient_id) or Intake(patient_id=patient_id)
    before = {"rules_out": _ruled_out(intake.flagged())} if intake.id else None
    intake.answers = {code: bool(answers.get(code, False)) for code in INTAKE_QUESTIONS}
    intake.notes = notes.strip()
    intake.completed_at = utcnow()
    db.session.add(intake)
    db.session.flush()
    # The audit log (read by reception) says that the questionnaire changed and what it now
    # rules out, never the answers or notes: those are health data for practitioners only.
    audit.record("intake.saved", actor_id=patient_id, entity_type="intake", entity_id=intake.id,
                 patient_id=patient_id, before=before, after={"rules_out": _ruled_out(intake.flagged())})
    db.session.commit()
    return intake


def _ruled_out(flagged: set[str]) -> list[str]:
    """Slugs of the treatments that answers ``flagged`` contraindicate, sorted."""
    if not flagged:
        return []
    rows = db.session.execute(select(Treatment.slug, Protocol.contraindications)
                              .join(Protocol, Protocol.treatment_id == Treatment.id))
    return sorted(slug for slug, contra in rows if flagged & set(contra or ()))


def own_intake(actor: Actor) -> Intake | None:
    """The caller's own questionnaire (None when never filled in); only patients have one."""
    return intake_of(_own_patient_id(actor))


def answer_own_intake(actor: Actor, answers: Mapping[str, bool], notes: str = "") -> Intake:
    """Store the caller's questionnaire from an answer to every question, no more and no less.

    The web form always sends every question (an unticked box is "no"); an API client that
    leaves one out has not answered it, so it is refused rather than stored as "no".
    """
    patient_id = _own_patient_id(actor)
    unknown = sorted(set(answers) - set(INTAKE_QUESTIONS))
    if unknown:
        raise InvalidRequest(
            gettext("There is no question %(codes)s; answer exactly these: %(known)s "
                    "(GET /api/v1/intake lists them).",
                    codes=", ".join(repr(k) for k in unknown), known=", ".join(INTAKE_QUESTIONS)),
            code="unknown_question",
        )
    missing = [key for key in INTAKE_QUESTIONS if key not in answers]
    if missing:
        raise InvalidRequest(
            gettext("Answer every question with true or false; no answer for %(codes)s "
                    "(GET /api/v1/intake lists the questions).", codes=", ".join(repr(k) for k in missing)),
            code="answer_missing",
        )
    return save_intake(patient_id, dict(answers), notes)


def _own_patient_id(actor: Actor) -> int:
    """The caller's id when they are a patient; staff have no questionnaire of their own."""
    if not actor.is_patient:
        raise Forbidden(gettext("Only a patient fills in a health questionnaire, signed in as themselves; "
                                "practitioners and admins read a patient's answers on the patient's health "
                                "page in the reception calendar."))
    return actor.user_id


def intake_needed(patient_id: int, treatment: Treatment) -> bool:
    """Whether the patient must fill in the questionnaire before booking ``treatment``
    (the same test the booking rule ``intake_required`` uses)."""
    return patient_facts(patient_id, treatment).intake_missing


def contraindications_for(patient_id: int, treatment: Treatment) -> list[str]:
    """The patient's answers that rule this treatment out for online booking (uncleared)."""
    if not patient_facts(patient_id, treatment).contraindicated_ids:
        return []
    intake = intake_of(patient_id)
    flagged = intake.flagged() if intake else set()
    protocol = treatment.protocol
    return [str(INTAKE_QUESTIONS[c]) for c in (protocol.contraindications if protocol else []) if c in flagged]


def request_callback(patient_id: int, treatment_id: int | None, note: str) -> None:
    """Ask the clinic to call the patient back (queued to the clinic's address, audited)."""
    begin_write(db.session)
    queue_callback(patient_id, treatment_id, note)
    db.session.commit()


def queue_callback(patient_id: int, treatment_id: int | None, note: str) -> None:
    """The call-back request of ``request_callback``, in the caller's transaction."""
    patient = db.session.get(User, patient_id)
    treatment = db.session.get(Treatment, treatment_id) if treatment_id else None
    settings = get_settings()
    with written_for(None, settings):  # the clinic's address: the clinic's language (issue 16)
        about = treatment.name if treatment else gettext("a treatment")
        asks = gettext("%(name)s (%(email)s, %(phone)s) asks for a call about %(about)s.", name=patient.name,
                       email=patient.email or gettext("no e-mail"), phone=patient.phone or gettext("no phone given"),
                       about=about)
        enqueue(kind="patient.callback", to_addr=settings.email or "clinic@localhost",
                subject=gettext("Call-back request: %(name)s about %(about)s", name=patient.name, about=about),
                body_text=f"{asks}\n\n{note.strip()}\n")
    audit.record("patient.callback_requested", actor_id=patient_id, entity_type="user", entity_id=patient_id,
                 patient_id=patient_id, after={"treatment": treatment.slug if treatment else None})


def export_data(patient_id: int) -> dict[str, Any]:
    """Everything stored about the patient, as JSON-ready values ("download my data")."""
    user = db.session.get(User, patient_id)
    if user is None:
        raise NotFound(gettext("No such patient."))
    appointments = db.session.scalars(
        select(Appointment).where(Appointment.patient_id == patient_id, Appointment.status != HELD)
        .options(selectinload(Appointment.treatment), selectinload(Appointment.practitioner))
        .order_by(Appointment.start_at)
    ).all()
    intake = intake_of(patient_id)
    return {
        "account": {"name": user.name, "email": user.email, "phone": user.phone,
                    "created_at": user.created_at.isoformat(),
                    "erasure_requested_at": user.erasure_requested_at.isoformat() if user.erasure_requested_at else None},
        "health_questionnaire": {"answers": intake.answers, "notes": intake.notes,
                                 "completed_at": intake.completed_at.isoformat()} if intake else None,
        "appointments": [{"id": a.id, "treatment": a.treatment.name, "practitioner": a.practitioner.name,
                          "start": a.start_at.isoformat(), "end": a.end_at.isoformat(), "status": a.status,
                          "series_id": a.series_id, "series_index": a.series_index,
                          "cancel_reason": a.cancel_reason} for a in appointments],
        "series": [{"id": s.id, "treatment": s.treatment.name, "status": s.status, "avoid_dates": s.avoid_dates}
                   for s in db.session.scalars(select(Series).where(Series.patient_id == patient_id))],
        "calendar_links": [{"created_at": f.created_at.isoformat(), "revoked": f.revoked_at is not None}
                           for f in db.session.scalars(select(FeedToken).where(
                               FeedToken.scope == "patient", FeedToken.target_id == patient_id))],
        "history": [{"at": e.at.isoformat(), "action": e.action} for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.patient_id == patient_id).order_by(AuditEvent.at))],
    }


def request_erasure(patient_id: int) -> None:
    """Record that the patient asks to be erased; staff confirm (records may have to be kept)."""
    begin_write(db.session)
    user = db.session.get(User, patient_id)
    if user.erasure_requested_at is None:
        user.erasure_requested_at = utcnow()
        audit.record("patient.erasure_requested", actor_id=patient_id, entity_type="user", entity_id=patient_id,
                     patient_id=patient_id)
        settings = get_settings()
        with written_for(None, settings):  # the clinic's address: the clinic's language (issue 16)
            enqueue(kind="patient.erasure_requested", to_addr=settings.email or "clinic@localhost",
                    subject=gettext("Erasure request: %(name)s", name=user.name),
                    body_text=gettext("%(name)s (%(email)s) asked to delete their account. Review and confirm.",
                                      name=user.name, email=user.email))
        db.session.commit()


ERASED_NAME = "Erased patient"
# Keys of audit snapshots that hold contact details; dropped from an erased patient's events.
PERSONAL_KEYS = ("name", "email", "phone", "to")


def erase_traces(patient_id: int, personal: tuple[str, ...]) -> None:
    """Remove an erased patient's ``personal`` values (name, e-mail, phone) from everywhere else
    they were copied to, in the current transaction (``clinic_admin.confirm_erasure`` commits).

    Their mail is deleted from the outbox (to them, or about them to the clinic: call-back and
    erasure requests); audit events keep what happened and when, with the values replaced by
    "Erased patient" and contact keys dropped; the reasons on their appointments the same;
    their stored API answers (idempotency records) deleted.
    """
    # Very short values (a one-letter name) would match inside unrelated words.
    needles = [v.strip() for v in personal if v and len(v.strip()) >= 3]
    appointment_ids = select(Appointment.id).where(Appointment.patient_id == patient_id)
    mentions = [column.contains(needle, autoescape=True) for needle in needles
                for column in (OutboxMessage.to_addr, OutboxMessage.subject, OutboxMessage.body_text,
                               OutboxMessage.body_html, OutboxMessage.ics)]
    db.session.execute(delete(OutboxMessage).where(or_(OutboxMessage.appointment_id.in_(appointment_ids), *mentions))
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.user_id == patient_id))
    # JSON columns are compared as text; non-ASCII values are stored \u-escaped there.
    json_forms = {needle: json.dumps(needle)[1:-1] for needle in needles}
    mentioned = [condition for needle in needles for condition in (
        AuditEvent.reason.contains(needle, autoescape=True),
        cast(AuditEvent.before, Text).contains(json_forms[needle], autoescape=True),
        cast(AuditEvent.after, Text).contains(json_forms[needle], autoescape=True))]
    for event in db.session.scalars(select(AuditEvent).where(or_(AuditEvent.patient_id == patient_id, *mentioned))):
        if event.action == "intake.saved":  # events written before answers were kept out of the log
            event.before = {"rules_out": event.before.get("rules_out", [])} if event.before else None
            event.after = {"rules_out": event.after.get("rules_out", [])} if event.after else None
        event.before, event.after = _scrubbed(event.before, needles), _scrubbed(event.after, needles)
        event.reason = _scrubbed(event.reason, needles)
    for appointment in db.session.scalars(select(Appointment).where(Appointment.patient_id == patient_id)):
        appointment.cancel_reason = _scrubbed(appointment.cancel_reason, needles)
        appointment.override_reason = _scrubbed(appointment.override_reason, needles)


def _scrubbed(value: Any, needles: list[str]) -> Any:
    """``value`` (text, or JSON of dicts and lists) with every needle replaced, case-insensitively,
    by "Erased patient", and the contact keys of dicts dropped."""
    if isinstance(value, str):
        for needle in needles:
            value = re.sub(re.escape(needle), ERASED_NAME, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, dict):
        return {k: _scrubbed(v, needles) for k, v in value.items() if k not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [_scrubbed(v, needles) for v in value]
    return value


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    """Signs password-reset tokens."""
    return URLSafeTimedSerializer(secret_key, salt="password-reset")


def _fingerprint(user: User) -> str:
    """Changes when the password changes, so a used reset link stops working."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def queue_password_reset(email: str, *, secret_key: str, base_url: str) -> None:
    """Mail a reset link if the account exists (the answer never says whether it does)."""
    begin_write(db.session)
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active:
        return
    token = _serializer(secret_key).dumps({"user": user.id, "fp": _fingerprint(user)})
    link = f"{base_url.rstrip('/')}/reset/{token}"
    settings = get_settings()
    with written_for(user, settings):  # the account owner's language (issue 16)
        body = "\n\n".join((gettext("Hello %(name)s,", name=user.name),
                             gettext("to choose a new password, open this link within an hour:") + f"\n{link}",
                             gettext("If you did not ask for this, ignore this e-mail: your password stays the same.")))
        enqueue(kind="password.reset", to_addr=user.email,
                subject=gettext("Reset your password at %(clinic)s", clinic=settings.name), body_text=body + "\n")
    db.session.commit()


def reset_password(token: str, new_password: str, *, secret_key: str) -> User:
    """Set a new password from a valid, unused, unexpired reset token."""
    begin_write(db.session)
    try:
        data = _serializer(secret_key).loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise InvalidRequest(gettext("This reset link has expired; ask for a new one."), code="link_expired") from None
    except BadSignature:
        raise InvalidRequest(gettext("This reset link is not valid; ask for a new one."), code="link_invalid") from None
    user = db.session.get(User, data.get("user"))
    if user is None or data.get("fp") != _fingerprint(user):
        raise InvalidRequest(gettext("This reset link was already used; ask for a new one."), code="link_used")
    user.set_password(new_password)
    tokens.end_all_sessions(user)  # a reset means someone else may know the old password
    audit.record("password.reset", actor_id=user.id, entity_type="user", entity_id=user.id,
                 patient_id=user.id if user.role == "patient" else None)
    db.session.commit()
    return user
