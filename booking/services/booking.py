"""Booking use cases: one appointment, a series plan, a whole series (all or nothing).

Booking one appointment is booking a series of one, and moving appointments is booking them
again in their new place: all three go through one pipeline, ``write_sessions`` (load what the
rules can see, assign rooms, check, decide, write, audit, queue mail). The callers open the
write transaction, answer a repeated ``Idempotency-Key`` and commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from flask_babel import gettext, ngettext
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from booking.database import begin_write, retry_deadlocks
from booking.extensions import db
from booking.mail import notifications
from booking.models import HELD, Appointment, Practitioner, Series, Treatment, User
from booking.models.base import utcnow
from booking.scheduling import (
    BookedAppointment,
    Interval,
    Problem,
    ProposedSession,
    SeriesPlan,
    check_booking,
    pick_room,
    plan_series,
)
from booking.scheduling.conflict_checks import as_booked
from booking.scheduling.series import plan_reach
from booking.scheduling.series_start import RECORD_CODES
from booking.services import audit, idempotency, rule_cache, schedules
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import InvalidRequest, RuleViolation
from booking.services.loading import (
    RuleContext,
    load_context,
    load_treatment,
    patient_facts,
    resolve_patient,
)
from booking.services.rules import conflict_from_integrity_error, decide


@dataclass(frozen=True)
class SessionRequest:
    """One session asked for: its start and practitioner."""

    start: datetime
    practitioner_id: int


def require_aware(moment: datetime, name: str) -> None:
    """Refuse naive datetimes: a time without an offset is ambiguous."""
    if moment.tzinfo is None:
        raise InvalidRequest(gettext("%(name)s needs a time zone offset, e.g. 2026-03-10T10:00:00+01:00.", name=name),
                             code="naive_datetime")
    # Nothing is booked outside these years, and date arithmetic (time zones, buffers, series
    # windows) on values near datetime.min/max would overflow into a 500.
    if not 2000 <= moment.year <= 2100:
        raise InvalidRequest(gettext("%(name)s must be between the years 2000 and 2100, not %(year)s.",
                                     name=name, year=moment.year),
                             code="date_out_of_range")


def check_practitioner_exists(practitioner_id: int) -> None:
    """400 for a practitioner id that does not exist."""
    if any(p.practitioner_id == practitioner_id for p in rule_cache.current_rules().practitioners):
        return  # an active one: no query needed
    if db.session.get(Practitioner, practitioner_id) is None:
        raise InvalidRequest(gettext("There is no practitioner with id %(id)s; see GET /api/v1/practitioners.",
                                     id=practitioner_id),
                             code="unknown_practitioner")


def assign_rooms(
    spec, sessions: Sequence[ProposedSession], context: RuleContext
) -> tuple[list[ProposedSession], list[BookedAppointment]]:
    """Give each session a free room (earlier sessions of the request hold theirs)."""
    held = list(context.booked)
    out = []
    for n, session in enumerate(sessions):
        room_id = None
        if spec.needs_room:
            end = session.start + timedelta(minutes=spec.duration_minutes)
            room_id = pick_room(spec, Interval(session.start, end), context.room_list, held)
            if room_id is None:
                # No free room: name a serving one so the checks report it as taken, not wrong.
                room_id = next((r.room_id for r in context.room_list if spec.treatment_id in r.treatment_ids), None)
            if room_id is not None:
                # Held for the room only: the patient and practitioner are the checks' business.
                held.append(as_booked(spec, session.start, -1, room_id, None, appointment_id=-(n + 1)))
        out.append(ProposedSession(session.start, session.practitioner_id, room_id, session.index))
    return out, held


def flush_or_conflict(session_index: int | None = None) -> None:
    """Flush; a no-overlap constraint failure becomes a 409 with nothing written."""
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        conflict = conflict_from_integrity_error(error, session_index)
        if conflict is None:
            raise
        raise conflict from None


@dataclass
class Booking:
    """What one run of the pipeline writes: new sessions, or existing appointments moved.

    ``sessions`` are in series order. With ``moving`` (same length) each session is the new
    place of that appointment; otherwise each is a new appointment, of a new series when
    ``new_series`` (with ``avoid_dates``, the dates the patient asked to keep clear).
    ``neighbours_before``/``after`` are the starts of the series sessions around them that
    stay where they are; ``problems`` were found before the rules ran (the cut-off, a
    consultation that booked treatments depend on).
    """

    actor: Actor
    treatment: Treatment
    patient: User
    sessions: list[ProposedSession]
    override_reason: str | None
    now: datetime
    moving: list[Appointment] = field(default_factory=list)
    new_series: bool = False
    avoid_dates: Sequence[date] = ()
    neighbours_before: datetime | None = None
    neighbours_after: datetime | None = None
    problems: list[Problem] = field(default_factory=list)
    prep_acknowledged: bool = False
    # A hold (issue 15): the session is written with status "held" until then, offered to the
    # patient rather than booked (no invite; ``offer_id`` groups the holds of one offer).
    hold_until: datetime | None = None
    offer_id: int | None = None
    # Appointments the rules look past: the one a held time is offered to replace.
    ignoring: frozenset[int] = frozenset()
    # A rehearsal (re-planning tries a time in a transaction it rolls back): every rule and the
    # database's constraints judge it, but nothing is audited or mailed.
    rehearsal: bool = False


def purge_expired_holds(low: datetime, high: datetime) -> None:
    """Remove the expired holds whose time meets ``[low, high)``: an expired hold counts for
    nothing, and the no-overlap rules must not see it when this write takes its time. (A hold
    is removed only once expired, by whichever write or timer comes first.)"""
    db.session.execute(delete(Appointment).where(
        Appointment.status == HELD, Appointment.hold_expires_at <= utcnow(),
        Appointment.busy_start < high, Appointment.busy_end > low,
    ).execution_options(synchronize_session=False))


def write_sessions(booking: Booking) -> tuple[list[Appointment], str | None]:
    """The pipeline: check ``booking`` against every rule, decide, write, audit, queue mail.

    Returns the appointments written (new or moved; unchanged moves are left out) and the
    override reason when staff overrode rules. Raises ``RuleViolation`` with nothing written.
    """
    treatment, patient, actor = booking.treatment, booking.patient, booking.actor
    spec = schedules.treatment_spec(treatment)
    ignore = frozenset(a.id for a in booking.moving) | booking.ignoring
    starts = [s.start for s in booking.sessions]
    context = load_context(min(starts), max(starts) + timedelta(minutes=spec.duration_minutes),
                           treatment_id=treatment.id, practitioner_ids={s.practitioner_id for s in booking.sessions},
                           patient_id=patient.id)
    booked = [b for b in context.booked if b.appointment_id not in ignore]
    sessions, _ = assign_rooms(spec, booking.sessions, RuleContext(context.policy, context.practitioners,
                                                                   context.rooms, booked))
    facts = patient_facts(patient.id, treatment, ignore_ids=ignore)
    problems = booking.problems + check_booking(
        spec, sessions, patient_id=patient.id, practitioners=context.practitioners, rooms=context.rooms,
        booked=booked, policy=context.policy, now=booking.now, consultation_starts=facts.consultation_starts,
        contraindicated_ids=facts.contraindicated_ids, intake_missing=facts.intake_missing,
        neighbours_before=booking.neighbours_before, neighbours_after=booking.neighbours_after,
    )
    overridden = decide(actor, list(dict.fromkeys(problems)), booking.override_reason)
    reason = booking.override_reason if overridden else None
    settings = get_settings()
    span = timedelta(minutes=treatment.buffer_before_minutes + treatment.duration_minutes + treatment.buffer_after_minutes)
    purge_expired_holds(min(starts) - span, max(starts) + span)
    series = None
    if booking.new_series:
        series = Series(patient_id=patient.id, treatment_id=treatment.id, status="active",
                        avoid_dates=[d.isoformat() for d in booking.avoid_dates], created_by_id=actor.user_id)
        db.session.add(series)
    written = []
    for n, session in enumerate(sessions):
        if booking.moving:
            appointment = booking.moving[n]
            if (appointment.start_at, appointment.practitioner_id, appointment.room_id) == \
                    (session.start, session.practitioner_id, session.room_id):
                continue
            snapshot = audit.snapshot(appointment)
            appointment.practitioner_id, appointment.room_id = session.practitioner_id, session.room_id
            appointment.ical_sequence += 1
            appointment.updated_by_id = actor.user_id
            appointment.updated_at = utcnow()
            if reason:
                appointment.override_reason = reason
        else:
            snapshot = None
            appointment = Appointment(
                patient_id=patient.id, practitioner_id=session.practitioner_id, room_id=session.room_id,
                treatment_id=treatment.id, series=series, series_index=session.index if series is not None else None,
                status=HELD if booking.hold_until else "booked", hold_expires_at=booking.hold_until,
                offer_id=booking.offer_id,
                override_reason=reason, created_by_id=actor.user_id, updated_by_id=actor.user_id,
            )
            db.session.add(appointment)
        appointment.place(session.start, treatment.duration_minutes, treatment.buffer_before_minutes,
                          treatment.buffer_after_minutes)
        if booking.prep_acknowledged:
            appointment.prep_acknowledged_at = booking.now
        flush_or_conflict(session.index)
        written.append(appointment)
        if booking.rehearsal:
            continue
        action = "appointment.moved" if snapshot is not None else (
            "hold.created" if booking.hold_until else "appointment.booked")
        audit.record_appointment(action, appointment, actor_id=actor.user_id, before=snapshot, reason=reason,
                                 overridden=overridden)
        if booking.prep_acknowledged:
            audit.record_appointment("appointment.prep_acknowledged", appointment, actor_id=actor.user_id)
    if booking.rehearsal:
        return written, reason
    if booking.hold_until:
        pass  # a hold is offered, not booked: its invite goes out when it is accepted
    elif booking.moving:
        for appointment in written:
            notifications.queue_invite(appointment, settings, "moved")
    elif series is not None:
        audit.record("series.booked", actor_id=actor.user_id, entity_type="series", entity_id=series.id,
                     after={"treatment": treatment.slug, "sessions": len(written), "overridden": overridden or None},
                     reason=reason, patient_id=patient.id)
        notifications.queue_series_confirmation(series, written, settings)
    else:
        notifications.queue_invite(written[0], settings, "booked")
    return written, reason


def _first_answer(actor: Actor, key: str | None, path: str, error: RuleViolation, request_fingerprint: str):
    """After a refusal: the record of a concurrent request with the same ``Idempotency-Key``
    that won (its answer is this request's answer), or the refusal again."""
    if not key:
        raise error
    db.session.rollback()
    record = idempotency.find(actor.user_id, key, path, request_fingerprint)
    if record is None:
        raise error
    return record


@retry_deadlocks
def book_appointment(
    actor: Actor,
    *,
    treatment_slug: str,
    start: datetime,
    practitioner_id: int,
    patient_id: int | None = None,
    override_reason: str | None = None,
    idempotency_key: str | None = None,
    prep_acknowledged: bool = False,
    now: datetime | None = None,
) -> Appointment:
    """Book one appointment (a consultation or a single session) in one transaction."""
    require_aware(start, "start")
    request_fingerprint = idempotency.fingerprint({
        "treatment": treatment_slug, "start": start, "practitioner_id": practitioner_id, "patient_id": patient_id,
        "override_reason": override_reason, "prep_acknowledged": prep_acknowledged,
    })
    begin_write(db.session)
    replay = idempotency.find(actor.user_id, idempotency_key, "POST /appointments", request_fingerprint)
    if replay is not None:
        return db.session.get(Appointment, replay.response["appointment_id"])
    treatment = load_treatment(treatment_slug)
    patient = resolve_patient(actor, patient_id)
    check_practitioner_exists(practitioner_id)
    try:
        written, _ = write_sessions(Booking(
            actor, treatment, patient, [ProposedSession(start, practitioner_id, None, None)], override_reason,
            now or utcnow(), prep_acknowledged=prep_acknowledged,
        ))
    except RuleViolation as refusal:
        first = _first_answer(actor, idempotency_key, "POST /appointments", refusal, request_fingerprint)
        return db.session.get(Appointment, first.response["appointment_id"])
    idempotency.remember(actor.user_id, idempotency_key, "POST /appointments", 201,
                         {"appointment_id": written[0].id}, request_fingerprint)
    db.session.commit()
    return written[0]


@retry_deadlocks
def book_series(
    actor: Actor,
    *,
    treatment_slug: str,
    sessions: Sequence[SessionRequest],
    patient_id: int | None = None,
    override_reason: str | None = None,
    avoid_dates: Sequence[date] = (),
    idempotency_key: str | None = None,
    prep_acknowledged: bool = False,
    now: datetime | None = None,
) -> Series:
    """Book every session of a series or none, in one transaction."""
    for n, s in enumerate(sessions):
        require_aware(s.start, f"sessions[{n}].start")
    request_fingerprint = idempotency.fingerprint({
        "treatment": treatment_slug, "sessions": [[s.start, s.practitioner_id] for s in sessions],
        "patient_id": patient_id, "override_reason": override_reason, "avoid_dates": sorted(avoid_dates),
        "prep_acknowledged": prep_acknowledged,
    })
    begin_write(db.session)
    replay = idempotency.find(actor.user_id, idempotency_key, "POST /series", request_fingerprint)
    if replay is not None:
        return db.session.get(Series, replay.response["series_id"])
    treatment = load_treatment(treatment_slug)
    patient = resolve_patient(actor, patient_id)
    count = treatment.protocol.sessions if treatment.protocol is not None else 1
    if not 1 <= len(sessions) <= count:
        raise InvalidRequest(
            ngettext("%(treatment)s is a series of %(num)d session; send 1 session, not %(sent)s.",
                     "%(treatment)s is a series of %(num)d sessions; send between 1 and %(num)d sessions, "
                     "not %(sent)s.", count, treatment=treatment.name, sent=len(sessions)),
            code="wrong_session_count",
        )
    for s in sessions:
        check_practitioner_exists(s.practitioner_id)
    ordered = sorted(sessions, key=lambda s: s.start)
    try:
        written, _ = write_sessions(Booking(
            actor, treatment, patient,
            [ProposedSession(s.start, s.practitioner_id, None, i) for i, s in enumerate(ordered)],
            override_reason, now or utcnow(), new_series=True, avoid_dates=avoid_dates,
            prep_acknowledged=prep_acknowledged,
        ))
    except RuleViolation as refusal:
        first = _first_answer(actor, idempotency_key, "POST /series", refusal, request_fingerprint)
        return db.session.get(Series, first.response["series_id"])
    series = written[0].series
    idempotency.remember(actor.user_id, idempotency_key, "POST /series", 201, {"series_id": series.id},
                         request_fingerprint)
    db.session.commit()
    return series


def plan(
    actor: Actor,
    *,
    treatment_slug: str,
    first_start: datetime,
    practitioner_id: int | None = None,
    patient_id: int | None = None,
    avoid_dates: Sequence[date] = (),
    now: datetime | None = None,
) -> tuple[SeriesPlan, list[Problem]]:
    """Propose a whole series from ``first_start``; books nothing.

    The planner applies every rule a booking would, the patient's record included when the
    patient is known; without one, the rules about a patient's record cannot be judged yet.
    """
    require_aware(first_start, "first_start")
    now = now or utcnow()
    treatment_id = rule_cache.current_rules().active_slugs.get(treatment_slug)
    if treatment_id is None:
        load_treatment(treatment_slug)  # says there is no such treatment
    patient = resolve_patient(actor, patient_id) if (actor.is_patient or patient_id is not None) else None
    if practitioner_id is not None:
        check_practitioner_exists(practitioner_id)
    series_plan = plan_for(treatment_id, first_start, practitioner_id=practitioner_id,
                           patient_id=patient.id if patient else None, avoid_dates=avoid_dates, now=now)
    return series_plan, list(series_plan.problems)


def plan_for(
    treatment_id: int, first_start: datetime, *, practitioner_id: int | None, patient_id: int | None,
    avoid_dates: Sequence[date] = (), sessions: int | None = None, held: Sequence[BookedAppointment] = (),
    ignore_ids: frozenset[int] = frozenset(), now: datetime, later_practitioner_id: int | None = None,
    consultations: Sequence[datetime] = (),
) -> SeriesPlan:
    """The planner's series from ``first_start`` with what it needs loaded: the window it says
    it can look at, and the patient's record.

    ``sessions`` plans fewer sessions than the protocol (the rest of a series), ``held`` are
    sessions the patient already holds that the bookings do not show yet, ``ignore_ids``
    appointments being moved, ``later_practitioner_id`` the one sessions after the first prefer,
    ``consultations`` the starts of consultations the patient is about to book with it.
    """
    rules = rule_cache.current_rules()
    spec = rules.treatments.get(treatment_id) or schedules.treatment_spec(db.session.get(Treatment, treatment_id))
    if sessions is not None:
        spec = replace(spec, protocol=replace(spec.protocol, sessions=sessions))
    low, high = plan_reach(spec, first_start, tuple(rules.treatments.values()))
    context = load_context(low, high, treatment_id=treatment_id, patient_id=patient_id)
    booked = [b for b in context.booked if b.appointment_id not in ignore_ids] + list(held)
    facts = None
    if patient_id is not None:
        facts = patient_facts(patient_id, db.session.get(Treatment, treatment_id), ignore_ids=ignore_ids)
    series_plan = plan_series(
        spec, first_start, context.practitioner_list, context.room_list, booked, context.policy, now,
        practitioner_id=practitioner_id, patient_id=patient_id, avoid_dates=tuple(avoid_dates),
        consultation_starts=tuple(sorted((*facts.consultation_starts, *consultations))) if facts else (),
        contraindicated_ids=facts.contraindicated_ids if facts else frozenset(),
        intake_missing=facts.intake_missing if facts else False,
        later_practitioner_id=later_practitioner_id,
    )
    if facts is None:
        # Without a patient, the rules about a patient's record cannot be judged yet.
        problems = tuple(p for p in series_plan.problems if p.code not in RECORD_CODES)
        series_plan = SeriesPlan(series_plan.sessions, problems)
    return series_plan
