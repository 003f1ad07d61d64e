"""The course after booking (issue 14), part two: maintenance and recall.

When a series is completed the patient is due for maintenance at the protocol's
``maintenance_interval_days`` after its last session (``series_ended`` makes the recall). A
timer (``queue_recalls``) invites them ``INVITE_DAYS_AHEAD`` days before the date, with a link
to a proposed time, and reminds them once ``REMIND_AFTER_DAYS`` later if they have not booked.
Reception's list (``recall_list``) shows every recall as upcoming, due, overdue, booked or
declined.

A maintenance session obeys every rule; when the patient's consultation is older than the
protocol allows, the proposal holds a new consultation first and the session after it
(``propose_maintenance``), both checked by the rule book before they are offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext, ngettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from booking.database import begin_write
from booking.extensions import db
from booking.mail import rendering
from booking.mail.notifications import named
from booking.mail.outbox import enqueue
from booking.models import Appointment, Recall, Series, Treatment
from booking.models.base import utcnow
from booking.scheduling.clock import local_date
from booking.scheduling.course import maintenance_due, recall_standing
from booking.services import audit, availability
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest, NotFound

INVITE_DAYS_AHEAD = 14  # the invitation goes out two weeks before maintenance is due
REMIND_AFTER_DAYS = 14  # and one reminder two weeks after it, if nothing was booked
LOOK_AHEAD_DAYS = 56  # how far past the due date a proposal looks for a free time
ALREADY_CLOSED = ("booked", "declined")


def series_ended(series: Series) -> Recall | None:
    """Make the recall of a series that has just been completed (once), in the caller's
    transaction; None when its protocol has no maintenance or it is not completed."""
    protocol = series.treatment.protocol
    if series.status != "completed" or protocol is None or not protocol.maintenance_interval_days:
        return None
    existing = db.session.scalar(select(Recall).where(Recall.series_id == series.id))
    if existing is not None:
        return existing
    done = [a for a in series.appointments if a.status == "completed"]
    if not done:
        return None
    last = max(a.start_at for a in done)
    recall = Recall(series_id=series.id, patient_id=series.patient_id, treatment_id=series.treatment_id,
                    due_on=maintenance_due(last, protocol.maintenance_interval_days, get_settings().timezone),
                    status="due")
    db.session.add(recall)
    db.session.flush()
    audit.record("recall.created", actor_id=None, entity_type="recall", entity_id=recall.id,
                 patient_id=series.patient_id, after={"due_on": recall.due_on.isoformat(),
                                                      "treatment": series.treatment.slug})
    return recall


def _maintenance_booked(recall: Recall) -> Appointment | None:
    """A session of the recall's treatment the patient booked since the series ended."""
    return db.session.scalar(
        select(Appointment).where(
            Appointment.patient_id == recall.patient_id, Appointment.treatment_id == recall.treatment_id,
            Appointment.status.in_(("booked", "checked_in", "completed")),
            Appointment.created_at >= recall.created_at,
            (Appointment.series_id.is_(None)) | (Appointment.series_id != recall.series_id),
        ).order_by(Appointment.start_at).limit(1))


def _settle(recall: Recall) -> None:
    """Mark a recall booked once the patient has booked its maintenance, however they did."""
    if recall.status in ALREADY_CLOSED:
        return
    booked = _maintenance_booked(recall)
    if booked is not None:
        recall.status, recall.appointment_id = "booked", booked.id
        audit.record("recall.booked", actor_id=None, entity_type="recall", entity_id=recall.id,
                     patient_id=recall.patient_id, appointment_id=booked.id)


@dataclass(frozen=True)
class RecallReport:
    """What a run of the recall timer did."""

    invited: int = 0
    reminded: int = 0
    booked: int = 0


def queue_recalls(now: datetime | None = None) -> RecallReport:
    """Invite the patients whose maintenance comes due and remind once those who did not book;
    each message exactly once (its dedupe key names the recall and the step)."""
    from booking.services.course import message_on

    now = now or utcnow()
    begin_write(db.session)
    settings = get_settings()
    today = local_date(now, settings.timezone)
    recalls = db.session.scalars(
        select(Recall).where(Recall.status.in_(("due", "invited")),
                             Recall.due_on <= today + timedelta(days=INVITE_DAYS_AHEAD))
        .options(selectinload(Recall.patient), selectinload(Recall.treatment))
    ).all()
    mail = rendering.installed()
    invited = reminded = booked = 0
    for recall in recalls:
        _settle(recall)
        if recall.status == "booked":
            booked += 1
            continue
        try:
            with db.session.begin_nested():
                if recall.status == "due":
                    if message_on("recall.invite"):
                        _queue(recall, settings, mail, "invite")
                    recall.status, recall.invited_at = "invited", now
                    invited += 1
                elif recall.invited_at is not None and now >= recall.invited_at + timedelta(days=REMIND_AFTER_DAYS):
                    if message_on("recall.reminder"):
                        _queue(recall, settings, mail, "reminder")
                    recall.status, recall.reminded_at = "reminded", now
                    reminded += 1
                db.session.flush()
        except IntegrityError:
            continue  # another server did it a moment ago
    db.session.commit()
    return RecallReport(invited, reminded, booked)


def _queue(recall: Recall, settings, mail, step: str) -> None:
    link = f"{mail.base_url}/me/maintenance/{recall.id}"
    with rendering.written_for(recall.patient, settings):  # the patient's language (issue 16)
        text, html = mail.render("recall", recall=recall, clinic=settings, link=link, step=step,
                                 named=named(settings), manage_url=mail.manage_url,
                                 due=recall.due_on)
        subject = (gettext("Time to book your next appointment at %(clinic)s", clinic=settings.name)
                   if step == "invite" else
                   gettext("A reminder from %(clinic)s: your next appointment", clinic=settings.name))
        enqueue(kind=f"recall.{step}", to_addr=recall.patient.email, subject=subject, body_text=text,
                body_html=html, dedupe_key=f"recall:{recall.id}:{step}")


@dataclass(frozen=True)
class RecallRow:
    """A recall on reception's list."""

    recall: Recall
    standing: str  # upcoming / due / overdue / booked / declined


def recall_list(now: datetime | None = None, *, standing: str | None = None) -> list[RecallRow]:
    """Every recall, due ones first; ``standing`` keeps one kind (e.g. "overdue")."""
    now = now or utcnow()
    today = local_date(now, get_settings().timezone)
    recalls = db.session.scalars(
        select(Recall).options(selectinload(Recall.patient), selectinload(Recall.treatment))
        .order_by(Recall.due_on, Recall.id)
    ).all()
    for recall in recalls:
        _settle(recall)
    db.session.commit()
    rows = [RecallRow(r, recall_standing(r.status, r.due_on, today, due_from_days=INVITE_DAYS_AHEAD)) for r in recalls]
    order = {"overdue": 0, "due": 1, "upcoming": 2, "booked": 3, "declined": 4}
    rows.sort(key=lambda row: (order[row.standing], row.recall.due_on))
    return [row for row in rows if standing is None or row.standing == standing]


def recalls_of(patient_id: int) -> list[Recall]:
    """The patient's recalls, soonest due first."""
    return list(db.session.scalars(
        select(Recall).where(Recall.patient_id == patient_id).options(selectinload(Recall.treatment))
        .order_by(Recall.due_on)))


def load_recall(actor: Actor, recall_id: int) -> Recall:
    """A recall the caller may see: their own (patients) or any (reception, admin); else 404."""
    recall = db.session.get(Recall, recall_id)
    if recall is None or (actor.is_patient and recall.patient_id != actor.user_id):
        raise NotFound(gettext("There is no recall %(id)s.", id=recall_id))
    if actor.is_staff and not actor.can_book_for_others:
        raise Forbidden(gettext("Only reception and administrators work the recall list."))
    return recall


def decline(actor: Actor, recall_id: int, *, reason: str = "") -> Recall:
    """The patient does not want maintenance now (they, or reception for them); audited."""
    begin_write(db.session)
    recall = load_recall(actor, recall_id)
    if recall.status == "booked":
        raise InvalidRequest(gettext("This maintenance is booked already; cancel the appointment instead."))
    recall.status = "declined"
    audit.record("recall.declined", actor_id=actor.user_id, entity_type="recall", entity_id=recall.id,
                 patient_id=recall.patient_id, reason=reason.strip() or None)
    db.session.commit()
    return recall


# ---- proposing and booking a maintenance session ------------------------------------------

@dataclass(frozen=True)
class ProposedTime:
    """One appointment of a maintenance proposal."""

    treatment: Treatment
    start: datetime
    end: datetime
    practitioner_id: int


@dataclass(frozen=True)
class MaintenanceProposal:
    """What booking maintenance takes: a new consultation first when the last is too old, then
    the session; ``why`` explains an empty or two-step proposal."""

    recall: Recall
    consultation: ProposedTime | None
    session: ProposedTime | None
    why: str | None = None


def _first_free(actor: Actor | None, treatment: Treatment, first_day: date, days: int, now: datetime,
                accept=lambda slot: True):
    """The first free slot of ``treatment`` from ``first_day`` (as ``actor`` may book it) that
    ``accept`` takes, looking ``days`` ahead."""
    step = availability.MAX_DAYS - 1
    day = first_day
    while day <= first_day + timedelta(days=days):
        found = availability.available_slots(actor, treatment_slug=treatment.slug, first_day=day,
                                             last_day=day + timedelta(days=step - 1), now=now)
        if found.treatment_slug == treatment.slug:
            for slot in found.slots:
                if accept(slot):
                    return slot
        day += timedelta(days=step)
    return None


def propose_maintenance(actor: Actor, recall_id: int, *, now: datetime | None = None) -> MaintenanceProposal:
    """The first time maintenance can be booked from its due date, by every rule for this
    patient; with a new consultation before it when the last one no longer counts."""
    from booking.services.booking import plan_for

    now = now or utcnow()
    recall = load_recall(actor, recall_id)
    treatment = recall.treatment
    tz = get_settings().timezone
    today = local_date(now, tz)
    patient = Actor(recall.patient_id, "patient")
    first_day = max(recall.due_on, today)

    def valid(slot, consultations=()) -> bool:
        plan = plan_for(treatment.id, slot.start, practitioner_id=slot.practitioner_id, patient_id=recall.patient_id,
                        sessions=1, now=now, consultations=consultations)
        return plan.sessions[0].placed and not plan.problems

    slot = _first_free(patient, treatment, first_day, LOOK_AHEAD_DAYS, now, accept=valid)
    if slot is not None:
        return MaintenanceProposal(recall, None, ProposedTime(treatment, slot.start, slot.end, slot.practitioner_id))
    protocol = treatment.protocol
    consultation_treatment = protocol.consultation_treatment if protocol else None
    if consultation_treatment is None:
        return MaintenanceProposal(recall, None, None, gettext("No free time was found in the next weeks; call the clinic."))
    consultation = _first_free(patient, consultation_treatment, today, LOOK_AHEAD_DAYS, now)
    if consultation is None:
        return MaintenanceProposal(recall, None, None,
                                   gettext("No free consultation was found in the next weeks; call the clinic."))
    after = max(first_day, local_date(consultation.start, tz) + timedelta(days=protocol.consultation_min_days_before))
    slot = _first_free(None, treatment, after, LOOK_AHEAD_DAYS, now,
                       accept=lambda s: s.start > consultation.end and valid(s, (consultation.start,)))
    days = protocol.consultation_valid_days
    if slot is None:
        return MaintenanceProposal(recall, ProposedTime(consultation_treatment, consultation.start, consultation.end,
                                                        consultation.practitioner_id), None,
                                   ngettext("Your last consultation is more than %(num)d day old, so the clinic sees "
                                            "you for a new one first. No session time after it was found; call the "
                                            "clinic.",
                                            "Your last consultation is more than %(num)d days old, so the clinic sees "
                                            "you for a new one first. No session time after it was found; call the "
                                            "clinic.", days))
    why = ngettext("Your last consultation is more than %(num)d day old, so the clinic sees you for a new one first.",
                   "Your last consultation is more than %(num)d days old, so the clinic sees you for a new one first.",
                   days)
    return MaintenanceProposal(
        recall,
        ProposedTime(consultation_treatment, consultation.start, consultation.end, consultation.practitioner_id),
        ProposedTime(treatment, slot.start, slot.end, slot.practitioner_id), why)


def book_maintenance(actor: Actor, recall_id: int, *, session_start: datetime, session_practitioner_id: int,
                     consultation_start: datetime | None = None, consultation_practitioner_id: int | None = None,
                     override_reason: str | None = None, now: datetime | None = None) -> list[Appointment]:
    """Book a proposal: the consultation first when there is one, then the session; the recall
    is then booked. Every rule applies as to any booking (409/422 when a time went meanwhile).

    The two are separate bookings: when the session's time went in the meantime the
    consultation stays booked (it is needed anyway) and the patient picks another session time.
    """
    from booking.services.booking import book_appointment

    recall = load_recall(actor, recall_id)
    if recall.status in ALREADY_CLOSED:
        raise InvalidRequest(gettext("This maintenance is booked already.") if recall.status == "booked"
                             else gettext("This maintenance is declined already."))
    patient_id = None if actor.is_patient else recall.patient_id
    made = []
    treatment = recall.treatment
    if consultation_start is not None:
        consultation_treatment = treatment.protocol.consultation_treatment if treatment.protocol else None
        if consultation_treatment is None or consultation_practitioner_id is None:
            raise InvalidRequest(gettext("This treatment has no consultation to book."))
        made.append(book_appointment(actor, treatment_slug=consultation_treatment.slug, start=consultation_start,
                                     practitioner_id=consultation_practitioner_id, patient_id=patient_id,
                                     override_reason=override_reason, now=now))
    made.append(book_appointment(actor, treatment_slug=treatment.slug, start=session_start,
                                 practitioner_id=session_practitioner_id, patient_id=patient_id,
                                 override_reason=override_reason, now=now))
    begin_write(db.session)
    recall = db.session.get(Recall, recall_id)
    _settle(recall)
    db.session.commit()
    return made
