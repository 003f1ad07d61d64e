"""Health questionnaire review: which treatments a patient's answers rule out for online
booking, and a practitioner clearing the patient for one (DESIGN §1, "until a practitioner
clears the patient")."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import force_locale, gettext
from sqlalchemy import select

from booking.database import begin_write
from booking.extensions import db
from booking.models import (
    INTAKE_QUESTIONS,
    Appointment,
    Clearance,
    Practitioner,
    Treatment,
    User,
)
from booking.services import audit
from booking.services.actor import Actor
from booking.services.errors import Forbidden, InvalidRequest, NotFound
from booking.services.patients import intake_of


@dataclass(frozen=True)
class Contraindication:
    """A treatment the patient's answers rule out, why, and whether it was cleared."""

    treatment: Treatment
    reasons: list[str]  # the questions answered "yes", in the request's language
    codes: list[str]  # their codes
    clearance: Clearance | None


def review(patient_id: int, actor: Actor) -> tuple[User, dict[str, bool] | None, list[Contraindication]]:
    """The patient, their answers, and every treatment their answers contraindicate.

    Admins read any patient's; a practitioner only their own patients' (who have or had an
    appointment with them); anyone else's is a 404, the same as no such patient.
    """
    patient = db.session.get(User, patient_id)
    if patient is None or patient.role != "patient" or not may_read(actor, patient_id):
        raise NotFound(gettext("There is no patient %(id)s.", id=patient_id))
    intake = intake_of(patient_id)
    flagged = intake.flagged() if intake else set()
    cleared = {c.treatment_id: c for c in db.session.scalars(select(Clearance).where(Clearance.patient_id == patient_id))}
    found = []
    for treatment in db.session.scalars(select(Treatment).where(Treatment.active.is_(True)).order_by(Treatment.id)):
        codes = [c for c in (treatment.protocol.contraindications if treatment.protocol else []) if c in flagged]
        if codes:
            found.append(Contraindication(treatment, [str(INTAKE_QUESTIONS[c]) for c in codes], codes,
                                           cleared.get(treatment.id)))
    return patient, (intake.answers if intake else None), found


def may_read(actor: Actor, patient_id: int) -> bool:
    """Whether ``actor`` may read the patient's health answers: admins, and practitioners whose
    patient they are (any appointment, cancelled ones included); never the front desk."""
    if actor.role == "admin":
        return True
    if actor.role != "practitioner":
        return False
    return db.session.scalar(
        select(Appointment.id)
        .join(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .where(Appointment.patient_id == patient_id, Practitioner.user_id == actor.user_id)
        .limit(1)
    ) is not None


def clear(actor: Actor, patient_id: int, treatment_id: int, note: str) -> Clearance:
    """A practitioner clears the patient for one treatment (a clinical decision: practitioners only)."""
    if actor.role != "practitioner":
        raise Forbidden(gettext("Only a practitioner can clear a patient for a treatment."))
    begin_write(db.session)
    _, _, found = review(patient_id, actor)  # not their patient: 404 before anything else
    if not note.strip():
        raise InvalidRequest(gettext("Say why the patient is cleared (it goes into the audit log)."), code="note_required")
    match = next((c for c in found if c.treatment.id == treatment_id), None)
    if match is None:
        raise InvalidRequest(gettext("Nothing in the questionnaire rules this treatment out."),
                             code="not_contraindicated")
    if match.clearance is not None:
        return match.clearance
    clearance = Clearance(patient_id=patient_id, treatment_id=treatment_id, cleared_by_id=actor.user_id,
                          note=note.strip()[:500])
    db.session.add(clearance)
    db.session.flush()
    with force_locale("en"):  # the log keeps the questions as written, whoever reads it later
        answers = [str(INTAKE_QUESTIONS[c]) for c in match.codes]
    audit.record("patient.cleared", actor_id=actor.user_id, entity_type="clearance", entity_id=clearance.id,
                 patient_id=patient_id, after={"treatment": match.treatment.slug, "answers": answers},
                 reason=clearance.note)
    db.session.commit()
    return clearance
