"""Loading and access checks shared by the use cases: treatments, patients, appointments,
and the rule context (schedules, rooms, booked time, patient facts) for a window."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from booking.extensions import db
from booking.models import (
    BLOCKING_STATUSES,
    HELD,
    Appointment,
    Clearance,
    Intake,
    Protocol,
    Treatment,
    User,
)
from booking.scheduling import model as sm
from booking.scheduling.rulebook import Reach, reach
from booking.services import rule_cache, schedules
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest, NotFound


@dataclass(frozen=True)
class RuleContext:
    """Everything the rules need about the clinic around a window of time."""

    policy: sm.ClinicPolicy
    practitioners: dict[int, sm.PractitionerSchedule]
    rooms: dict[int, sm.RoomSchedule]
    booked: list[sm.BookedAppointment]

    @property
    def practitioner_list(self) -> list[sm.PractitionerSchedule]:
        """The schedules in id order."""
        return [self.practitioners[k] for k in sorted(self.practitioners)]

    @property
    def room_list(self) -> list[sm.RoomSchedule]:
        """The rooms in id order."""
        return [self.rooms[k] for k in sorted(self.rooms)]


def load_context(
    start: datetime, end: datetime, *, treatment_id: int,
    practitioner_ids: Iterable[int] | None = None, patient_id: int | None = None,
) -> RuleContext:
    """Schedules, rooms and the booked appointments the rules can see for ``treatment_id``
    starting in ``[start, end]``.

    How far around the window appointments are read is asked of the rules
    (``rulebook.reach``: buffers, and for ``patient_id`` the longest aftercare), never a fixed
    margin. ``practitioner_ids`` keeps only the named practitioners (a booking checks just its
    own): loading every schedule was most of a booking's time (docs/PERFORMANCE.md). A
    practitioner left out is, to the rules, one who does not give the treatment. With
    ``practitioner_ids`` and ``patient_id`` the booked time is also only that of those
    practitioners, of the rooms kept and of the patient: nobody else's can clash.
    """
    rules = rule_cache.current_rules()
    asked = frozenset(practitioner_ids) if practitioner_ids is not None else None
    around_start, around_end = start - timedelta(days=1), end + timedelta(days=1)
    practitioners = rules.practitioners_for(around_start, around_end, treatment_id=treatment_id,
                                            practitioner_ids=asked)
    rooms = rules.rooms_for(treatment_id=treatment_id)
    involved = None
    if asked is not None and patient_id is not None:
        # Every asked practitioner, even one who does not give the treatment (a staff override).
        involved = schedules.Involved(asked, frozenset(rooms), patient_id)
    return RuleContext(
        # The cached closures are already the rules' intervals (clinic_policy takes rows).
        policy=replace(schedules.clinic_policy(get_settings()),
                       closures=rules.closures_between(around_start, around_end)),
        practitioners=practitioners,
        rooms=rooms,
        booked=schedules.booked_between(start, end, reach=reach_of(treatment_id, rules), patient_id=patient_id,
                                        treatments=rules.treatments, involved=involved),
    )


def reach_of(treatment_id: int, rules: rule_cache.ClinicRules | None = None) -> Reach:
    """How far the rules look around a window for ``treatment_id`` (``rulebook.reach``)."""
    rules = rules or rule_cache.current_rules()
    spec = rules.treatments.get(treatment_id)
    if spec is None:  # a treatment newer than the cached rules
        spec = schedules.treatment_spec(db.session.get(Treatment, treatment_id))
    return reach(spec, tuple(rules.treatments.values()))


def load_treatment(slug: str) -> Treatment:
    """An active treatment by slug, with its protocol and prep rules."""
    # One round trip: the protocol and its few prep rules are joined in.
    treatment = db.session.scalars(
        select(Treatment)
        .where(Treatment.slug == slug, Treatment.active.is_(True))
        .options(joinedload(Treatment.protocol).joinedload(Protocol.prep_rules))
    ).unique().first()
    if treatment is None:
        raise InvalidRequest(gettext("There is no treatment called %(slug)s; see GET /api/v1/treatments.",
                                     slug=repr(slug)),
                             code="unknown_treatment")
    return treatment


def resolve_patient(actor: Actor, patient_id: int | None) -> User:
    """The patient a booking is for: the caller themself, or the one staff named."""
    if actor.is_patient:
        if patient_id is not None and patient_id != actor.user_id:
            raise Forbidden(gettext("Patients can only book for themselves; leave out patient_id."))
        patient = db.session.get(User, actor.user_id)
    else:
        if not actor.can_book_for_others:
            raise Forbidden(gettext("Practitioners can read the calendar; a receptionist books for patients."))
        if patient_id is None:
            raise InvalidRequest(gettext("Staff must say which patient this is for: give patient_id."),
                                 code="patient_required")
        patient = db.session.get(User, patient_id)
        if patient is None or patient.role != "patient":
            raise InvalidRequest(gettext("There is no patient with id %(id)s.", id=patient_id), code="unknown_patient")
    if patient is None or not patient.active:
        raise Forbidden(gettext("This account cannot book."))
    return patient


def load_appointment_for(actor: Actor, appointment_id: int, *, for_update: bool = False) -> Appointment:
    """An appointment the caller may see: their own (patients) or any (staff); else 404."""
    query = select(Appointment).where(Appointment.id == appointment_id, Appointment.status != HELD)
    if for_update and db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    appointment = db.session.scalar(query)
    if appointment is None or (actor.is_patient and appointment.patient_id != actor.user_id):
        raise NotFound(gettext("There is no appointment %(id)s.", id=appointment_id))
    return appointment


def require_writer(actor: Actor) -> None:
    """Patients change their own bookings; among staff only reception and admin change any."""
    if actor.is_staff and not actor.can_book_for_others:
        raise Forbidden(gettext("Practitioners can read the calendar but not change bookings."))


@dataclass(frozen=True)
class PatientFacts:
    """What the rules need to know about the patient."""

    consultation_starts: tuple[datetime, ...]
    contraindicated_ids: frozenset[int]
    # The treatment lists contraindications and the patient never filled in the questionnaire:
    # the one test for "ask for the questionnaire first", on the web and in the API.
    intake_missing: bool


def patient_facts(patient_id: int, treatment: Treatment, *, ignore_ids: frozenset[int] = frozenset()) -> PatientFacts:
    """The patient's consultations (for this treatment's rule), whether it is contraindicated,
    and whether the questionnaire this treatment's contraindications are judged on is missing."""
    protocol = treatment.protocol
    starts: tuple[datetime, ...] = ()
    if protocol is not None and protocol.consultation_treatment_id is not None:
        starts = tuple(db.session.scalars(
            select(Appointment.start_at).where(
                Appointment.patient_id == patient_id,
                Appointment.treatment_id == protocol.consultation_treatment_id,
                Appointment.status.in_(BLOCKING_STATUSES),
                Appointment.id.not_in(ignore_ids) if ignore_ids else True,
            ).order_by(Appointment.start_at)
        ))
    contraindicated: frozenset[int] = frozenset()
    intake_missing = False
    if protocol is not None and protocol.contraindications:
        intake = db.session.scalar(select(Intake).where(Intake.patient_id == patient_id))
        intake_missing = intake is None
        flagged = intake.flagged() if intake is not None else set()
        if flagged & set(protocol.contraindications):
            cleared = db.session.scalar(select(Clearance.id).where(
                Clearance.patient_id == patient_id, Clearance.treatment_id == treatment.id))
            if cleared is None:
                contraindicated = frozenset({treatment.id})
    return PatientFacts(starts, contraindicated, intake_missing)
