"""The course after booking (issue 14), part one: prep confirmed before each session, and
aftercare after it.

- ``queue_prep_checks`` (a timer) asks each session's patient to confirm their prep at the
  protocol's ``prep_confirm_hours`` before it: a message with a single-use link that expires at
  the session's start, and the same checklist in the portal.
- ``answer_prep`` records an answer (from the link or the portal), audited; any step not done
  flags the session for reception and offers the nearest valid times (``choices.reschedule_options``:
  the rule book's own free times, which leave enough time to prepare) or a call back.
- ``calls_due`` is reception's "to call" list: unanswered past the answer-by time, not prepared,
  or a call back asked for.
- ``session_completed`` queues a completed session's aftercare exactly once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext, lazy_gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from booking.database import begin_write
from booking.extensions import db
from booking.i18n import translate
from booking.mail import rendering
from booking.mail.notifications import named, when
from booking.mail.outbox import enqueue
from booking.models import Appointment, PrepCheck, Protocol, Series, Treatment
from booking.models.access import hash_secret
from booking.models.base import utcnow
from booking.scheduling.clock import local_date, to_local
from booking.scheduling.course import (
    AftercareStep,
    CourseCount,
    aftercare_applying,
    bad_answers,
    course_count,
    course_warning,
    prep_ask,
    prep_status,
    session_state,
    step_key,
)
from booking.scheduling.model import Slot
from booking.services import audit
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest, NotFound, ServiceError
from booking.services.loading import load_appointment_for

# The messages of the course an admin can turn off, by kind (the kind stays a stable code; its
# description reads in the language of the page that shows it).
MESSAGE_KINDS = {
    "prep.confirm": lazy_gettext("Prep confirmation requests before each session"),
    "aftercare": lazy_gettext("Aftercare after each completed session"),
    "recall.invite": lazy_gettext("Maintenance invitations when a series is completed"),
    "recall.reminder": lazy_gettext("One reminder when a maintenance invitation is not answered"),
}


class LinkRefused(ServiceError):
    """A prep link that is unknown, used already or expired (410: it will not work again)."""

    status = 410
    code = "link_expired"


def message_on(kind: str) -> bool:
    """Whether the clinic sends messages of ``kind`` (each can be turned off in admin)."""
    return kind not in (get_settings().messages_off or [])


@dataclass(frozen=True)
class Step:
    """One line of a session's prep checklist."""

    key: str
    instruction: str
    due: datetime  # when the step begins (UTC)


@dataclass(frozen=True)
class Checklist:
    """A session's prep checklist, its answers so far and what follows from them."""

    appointment: Appointment
    steps: list[Step]
    answers: dict[str, str]
    status: str  # pending / prepared / needs_attention / callback
    answered_at: datetime | None
    alternatives: list[Slot]


def steps_of(appointment: Appointment) -> list[Step]:
    """The prep steps of a session, by stable key, earliest first."""
    protocol = appointment.treatment.protocol
    rules = protocol.prep_rules if protocol else []
    return [Step(step_key(r.id), r.instruction, appointment.start_at - timedelta(hours=r.lead_hours))
            for r in rules]


def _current_check(appointment: Appointment) -> PrepCheck | None:
    """The appointment's prep check when it is about its current start (a move starts afresh)."""
    check = db.session.scalar(select(PrepCheck).where(PrepCheck.appointment_id == appointment.id))
    if check is not None and check.start_at != appointment.start_at:
        return None
    return check


def _check_for(appointment: Appointment) -> PrepCheck:
    """The appointment's prep check for its current start, made or reset as needed."""
    check = db.session.scalar(select(PrepCheck).where(PrepCheck.appointment_id == appointment.id))
    if check is None:
        check = PrepCheck(appointment_id=appointment.id, start_at=appointment.start_at, answers={})
        db.session.add(check)
    elif check.start_at != appointment.start_at:
        check.start_at, check.answers, check.status = appointment.start_at, {}, "pending"
        check.answered_at = check.requested_at = check.link_hash = check.link_expires_at = None
    return check


def checklist(actor: Actor, appointment_id: int, *, now: datetime | None = None) -> Checklist:
    """The caller's view of a session's prep checklist (patients: only their own)."""
    appointment = load_appointment_for(actor, appointment_id)
    return _checklist(appointment, _current_check(appointment), Actor(appointment.patient_id, "patient"),
                      now or utcnow())


def _checklist(appointment: Appointment, check: PrepCheck | None, patient: Actor, now: datetime) -> Checklist:
    steps = steps_of(appointment)
    answers = dict(check.answers) if check else {}
    status = check.status if check else "pending"
    alternatives = []
    if status in ("needs_attention", "callback") and appointment.status == "booked":
        alternatives = nearest_times(patient, appointment, now=now)
    return Checklist(appointment, steps, answers, status, check.answered_at if check else None, alternatives)


def nearest_times(patient: Actor, appointment: Appointment, *, now: datetime, limit: int = 6) -> list[Slot]:
    """The free times nearest the session that keep its series valid and leave enough time to
    prepare from now: the rule book's own reschedule options, closest first."""
    from booking.services.choices import reschedule_options

    options = reschedule_options(patient, appointment.id, now=now)
    return sorted(options, key=lambda s: (abs(s.start - appointment.start_at), s.start))[:limit]


def answer_prep(actor: Actor, appointment_id: int, answers: dict[str, object], *,
                callback: bool = False, now: datetime | None = None) -> Checklist:
    """Record the patient's prep answers for a session (the patient themselves, or staff who
    took them by phone); audited. Any "not done" flags the session for reception."""
    now = now or utcnow()
    begin_write(db.session)
    appointment = load_appointment_for(actor, appointment_id, for_update=True)
    if actor.is_staff and not actor.can_book_for_others:
        raise Forbidden(gettext("Only reception and administrators record a patient's answers."))
    return _record(appointment, answers, actor_id=actor.user_id, callback=callback, now=now, via="portal")


def _record(appointment: Appointment, answers: dict[str, object], *, actor_id: int | None, callback: bool,
            now: datetime, via: str) -> Checklist:
    if appointment.status != "booked" or appointment.start_at <= now:
        raise InvalidRequest(gettext("This session is not ahead any more; there is nothing to confirm."))
    steps = steps_of(appointment)
    if not steps:
        raise InvalidRequest(gettext("This session has no prep steps to confirm."))
    problems = bad_answers(answers, [s.key for s in steps])
    if problems:
        raise InvalidRequest("; ".join(translate(p) for p in problems) + ".")
    check = _check_for(appointment)
    check.answers = {k: str(v) for k, v in answers.items()}
    check.status = "callback" if callback else prep_status(check.answers, [s.key for s in steps])
    check.answered_at = now
    check.link_expires_at = None  # the message's link has done its one job
    db.session.flush()
    audit.record("prep.answered", actor_id=actor_id, entity_type="appointment", entity_id=appointment.id,
                 patient_id=appointment.patient_id, appointment_id=appointment.id,
                 after={"status": check.status, "answers": check.answers, "via": via,
                        "start": appointment.start_at.isoformat()})
    if callback:
        from booking.services.patients import queue_callback

        queue_callback(appointment.patient_id, appointment.treatment_id,
                       f"Prep not done for the session on {when(appointment, get_settings())}.")
    db.session.commit()
    return _checklist(appointment, check, Actor(appointment.patient_id, "patient"), now)


# ---- the link in the message -------------------------------------------------------------

def _by_link(secret: str, now: datetime) -> tuple[Appointment, PrepCheck]:
    """The session a prep link is for, or LinkRefused with a reason the patient can act on."""
    check = db.session.scalar(select(PrepCheck).where(PrepCheck.link_hash == hash_secret(secret)))
    if check is None:
        raise LinkRefused(gettext("This link is not valid any more (the session may have moved: a new link was sent)."))
    if check.link_expires_at is None:  # an answer closes the link
        raise LinkRefused(gettext("This link has been used already. Sign in to see or change your answers."))
    if now >= check.link_expires_at:
        raise LinkRefused(gettext("This link has expired. Call the clinic, or sign in to see your appointments."))
    appointment = db.session.get(Appointment, check.appointment_id)
    if appointment is None or appointment.status != "booked" or appointment.start_at != check.start_at:
        raise LinkRefused(gettext("This session has changed or been cancelled; this link is not valid any more."))
    return appointment, check


def checklist_by_link(secret: str, *, now: datetime | None = None) -> Checklist:
    """The checklist a prep link opens (no sign-in: the link is the key, for this one purpose)."""
    now = now or utcnow()
    appointment, check = _by_link(secret, now)
    return _checklist(appointment, check, Actor(appointment.patient_id, "patient"), now)


def answer_by_link(secret: str, answers: dict[str, object], *, callback: bool = False,
                   now: datetime | None = None) -> Checklist:
    """Record an answer sent through a prep link; the link then stops working."""
    now = now or utcnow()
    begin_write(db.session)
    appointment, _ = _by_link(secret, now)
    return _record(appointment, answers, actor_id=appointment.patient_id, callback=callback, now=now, via="link")


# ---- the timer -----------------------------------------------------------------------------

def queue_prep_checks(now: datetime | None = None, *, base_url: str | None = None) -> int:
    """Ask for every session's prep confirmation that is due and not asked yet; returns how many.

    Safe on several servers: the message's dedupe key (appointment and start) is unique.
    """
    now = now or utcnow()
    begin_write(db.session)
    longest = db.session.scalar(select(Protocol.prep_confirm_hours).order_by(
        Protocol.prep_confirm_hours.desc().nulls_last()).limit(1))
    if not longest:
        db.session.rollback()
        return 0
    appointments = db.session.scalars(
        select(Appointment)
        .join(Treatment, Treatment.id == Appointment.treatment_id).join(Protocol, Protocol.treatment_id == Treatment.id)
        .where(Appointment.status == "booked", Appointment.start_at > now,
               Appointment.start_at <= now + timedelta(hours=longest), Protocol.prep_confirm_hours.is_not(None))
        .options(selectinload(Appointment.patient),
                 selectinload(Appointment.treatment).selectinload(Treatment.protocol).selectinload(Protocol.prep_rules))
        .order_by(Appointment.start_at)
    ).all()
    settings = get_settings()
    mail = rendering.installed() if base_url is None else rendering.MailRenderer(base_url)
    asked = 0
    for appointment in appointments:
        protocol = appointment.treatment.protocol
        ask = prep_ask(appointment.start_at, protocol.prep_confirm_hours, protocol.prep_answer_by_hours)
        if ask is None or now < ask.ask_at or not protocol.prep_rules:
            continue
        current = _current_check(appointment)
        if current is not None and current.requested_at is not None:
            continue
        try:
            with db.session.begin_nested():
                check = _check_for(appointment)
                secret = secrets.token_urlsafe(32)
                check.link_hash, check.link_expires_at, check.requested_at = hash_secret(secret), appointment.start_at, now
                if message_on("prep.confirm"):
                    _queue_prep_request(appointment, settings, mail, secret, ask.answer_by)
                db.session.flush()
        except IntegrityError:
            continue  # another server asked a moment ago
        asked += 1
    db.session.commit()
    return asked


def _queue_prep_request(appointment, settings, mail, secret: str, answer_by: datetime) -> None:
    link = f"{mail.base_url}/prep/{secret}"
    with rendering.written_for(appointment.patient, settings):  # the patient's language (issue 16)
        text, html = mail.render("prep_confirm", appointment=appointment, clinic=settings,
                                 when=when(appointment, settings), link=link, manage_url=mail.manage_url,
                                 named=named(settings), answer_by=to_local(answer_by, settings.timezone),
                                 steps=steps_of(appointment))
        enqueue(kind="prep.confirm", to_addr=appointment.patient.email,
                subject=gettext("Are you ready for your appointment at %(clinic)s, %(when)s?",
                                clinic=settings.name, when=when(appointment, settings)),
                body_text=text, body_html=html, appointment_id=appointment.id,
                dedupe_key=f"prep-confirm:{appointment.id}:{appointment.start_at:%Y%m%dT%H%MZ}")


# ---- reception's "to call" list ------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """A session reception should phone about, and why."""

    appointment: Appointment
    why: str  # "no_answer", "not_prepared", "callback"
    answered_at: datetime | None


CALL_REASONS = {
    "no_answer": lazy_gettext("No answer to the prep check"),
    "not_prepared": lazy_gettext("Not prepared"),
    "callback": lazy_gettext("Asked for a call back"),
}


def calls_due(now: datetime | None = None, *, days: int = 14) -> list[Call]:
    """Booked sessions in the next ``days`` whose prep needs a call: unanswered once the
    answer-by time has passed, answered "not done", or a call back asked for."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Appointment, PrepCheck, Protocol)
        .join(Protocol, Protocol.treatment_id == Appointment.treatment_id)
        .outerjoin(PrepCheck, PrepCheck.appointment_id == Appointment.id)
        .where(Appointment.status == "booked", Appointment.start_at > now,
               Appointment.start_at <= now + timedelta(days=days), Protocol.prep_confirm_hours.is_not(None))
        .options(selectinload(Appointment.patient), selectinload(Appointment.treatment))
        .order_by(Appointment.start_at)
    ).all()
    calls = []
    for appointment, check, protocol in rows:
        if check is not None and check.start_at != appointment.start_at:
            check = None
        status = check.status if check and check.answered_at else None
        if status == "needs_attention":
            calls.append(Call(appointment, "not_prepared", check.answered_at))
        elif status == "callback":
            calls.append(Call(appointment, "callback", check.answered_at))
        elif status is None:
            ask = prep_ask(appointment.start_at, protocol.prep_confirm_hours, protocol.prep_answer_by_hours)
            if ask is not None and now >= ask.answer_by:
                calls.append(Call(appointment, "no_answer", None))
    return calls


PREP_WORDS = {"prepared": lazy_gettext("prepared"), "needs_attention": lazy_gettext("not prepared"),
              "callback": lazy_gettext("asked for a call")}


def prep_states(appointment_ids: list[int]) -> dict[int, str]:
    """The prep answer of each appointment about its current start ("prepared",
    "needs_attention", "callback"), for calendars and day sheets; unanswered ones are absent."""
    if not appointment_ids:
        return {}
    rows = db.session.execute(
        select(PrepCheck.appointment_id, PrepCheck.status, PrepCheck.start_at, Appointment.start_at)
        .join(Appointment, Appointment.id == PrepCheck.appointment_id)
        .where(PrepCheck.appointment_id.in_(appointment_ids), PrepCheck.answered_at.is_not(None))
    ).all()
    return {a: status for a, status, asked, start in rows if asked == start}


# ---- aftercare -------------------------------------------------------------------------------

def aftercare_steps(treatment: Treatment) -> list[AftercareStep]:
    """A treatment's aftercare steps, shortest first."""
    protocol = treatment.protocol
    return [AftercareStep(r.instruction, r.hours) for r in (protocol.aftercare_rules if protocol else [])]


def session_completed(appointment: Appointment) -> None:
    """What follows a completed session, in the caller's transaction: its aftercare message
    (exactly once: the dedupe key names the appointment), and the recall when it ends a series."""
    steps = aftercare_steps(appointment.treatment)
    if steps and message_on("aftercare"):
        settings = get_settings()
        mail = rendering.installed()
        key = f"aftercare:{appointment.ical_uid}"
        from booking.models import OutboxMessage

        if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is None:
            with rendering.written_for(appointment.patient, settings):  # the patient's language (issue 16)
                text, html = mail.render("aftercare", appointment=appointment, clinic=settings,
                                         when=when(appointment, settings), manage_url=mail.manage_url,
                                         named=named(settings), steps=aftercare_steps(appointment.treatment))
                enqueue(kind="aftercare", to_addr=appointment.patient.email,
                        subject=gettext("After your appointment at %(clinic)s", clinic=settings.name),
                        body_text=text, body_html=html, appointment_id=appointment.id, dedupe_key=key)
    from booking.services.recall import series_ended

    if appointment.series is not None:
        series_ended(appointment.series)


def aftercare_now(patient_id: int, *, now: datetime | None = None) -> list[tuple[Appointment, AftercareStep, datetime]]:
    """The aftercare that still applies to a patient today: (session, step, until), soonest end first."""
    now = now or utcnow()
    longest = 24 * 60  # the admin form allows at most 60 days of aftercare
    rows = db.session.scalars(
        select(Appointment).where(Appointment.patient_id == patient_id, Appointment.status == "completed",
                                  Appointment.end_at > now - timedelta(hours=longest), Appointment.end_at <= now)
        .options(selectinload(Appointment.treatment).selectinload(Treatment.protocol)
                 .selectinload(Protocol.aftercare_rules))
    ).all()
    applying = [(a, step, until) for a in rows
                for step, until in aftercare_applying(a.end_at, aftercare_steps(a.treatment), now)]
    return sorted(applying, key=lambda t: t[2])


# ---- prepaid courses -----------------------------------------------------------------------

def set_course(actor: Actor, series_id: int, *, sessions: int | None, expires_on: date | None) -> Series:
    """Record a series as a prepaid course of ``sessions`` sessions to be used by ``expires_on``
    (None, None: not a package); reception and admin only, audited."""
    if not actor.can_book_for_others:
        raise Forbidden(gettext("Only reception and administrators record prepaid courses."))
    if sessions is not None and not 1 <= sessions <= 100:
        raise InvalidRequest(gettext("A course has between 1 and 100 sessions."))
    begin_write(db.session)
    series = db.session.get(Series, series_id)
    if series is None:
        raise NotFound(gettext("There is no series %(id)s.", id=series_id))
    before = {"sessions": series.course_sessions,
              "expires_on": series.course_expires_on.isoformat() if series.course_expires_on else None}
    series.course_sessions, series.course_expires_on = sessions, expires_on if sessions else None
    audit.record("series.course_set", actor_id=actor.user_id, entity_type="series", entity_id=series.id,
                 patient_id=series.patient_id, before=before,
                 after={"sessions": sessions, "expires_on": expires_on.isoformat() if expires_on and sessions else None})
    db.session.commit()
    return series


def course_of_series(series: Series, *, today: date | None = None) -> CourseCount | None:
    """The prepaid course's counts of a series, or None when it is not a package."""
    if series.course_sessions is None:
        return None
    today = today or local_date(utcnow(), get_settings().timezone)
    return course_count(series.course_sessions, [a.status for a in series.appointments],
                        series.course_expires_on, today)


def course_warning_for(series_id: int, *, adding: int, on: date) -> str | None:
    """Why booking ``adding`` more sessions of a series (the last on ``on``) goes past its
    prepaid course, or None (also when it is not a package)."""
    series = db.session.get(Series, series_id)
    if series is None:
        return None
    return course_warning_text(course_of_series(series), adding, on, series.course_expires_on)


def course_warning_text(count: CourseCount | None, adding: int, on: date, expires_on: date | None) -> str | None:
    """The rule's ``course_warning`` in the request's language (English outside a request), or None."""
    warning = course_warning(count, adding, on, expires_on)
    return None if warning is None else translate(warning)


# ---- the course view -------------------------------------------------------------------------

@dataclass(frozen=True)
class SessionLine:
    """One position of a series on the course view: the appointment that stands for it now (the
    booked one, else the last cancelled or missed one) and its state."""

    index: int
    appointment: Appointment
    state: str  # booked / prepared / needs_attention / checked_in / done / missed / cancelled
    window_gone: bool  # cancelled or missed, and no free time is left inside its window


@dataclass(frozen=True)
class SeriesCourse:
    """A series as the patient lives it."""

    series: Series
    sessions: list[SessionLine]
    planned: int  # the protocol's number of sessions
    next_session: Appointment | None
    next_prep: Step | None
    count: CourseCount | None
    recall: object | None

    @property
    def window_gone(self) -> bool:
        """A session can no longer be placed inside its window: the series must be re-planned."""
        return any(line.window_gone for line in self.sessions)


@dataclass(frozen=True)
class CourseView:
    """A patient's whole course: consultation, each series, aftercare that applies today."""

    consultation: Appointment | None
    series: list[SeriesCourse]
    aftercare: list[tuple[Appointment, AftercareStep, datetime]]


def course_view(patient_id: int, *, now: datetime | None = None) -> CourseView:
    """The course of one patient, newest series first."""
    from booking.models import Recall
    from booking.services.choices import reschedule_options

    now = now or utcnow()
    all_series = db.session.scalars(
        select(Series).where(Series.patient_id == patient_id).order_by(Series.created_at.desc(), Series.id.desc())
        .options(selectinload(Series.appointments), selectinload(Series.treatment).selectinload(Treatment.protocol)
                 .selectinload(Protocol.prep_rules))
    ).all()
    ids = [a.id for s in all_series for a in s.appointments]
    preps = prep_states(ids)
    recalls = {r.series_id: r for r in db.session.scalars(select(Recall).where(Recall.patient_id == patient_id))}
    views = []
    for series in all_series:
        by_index: dict[int, list[Appointment]] = {}
        for a in series.appointments:
            by_index.setdefault(a.series_index or 0, []).append(a)
        lines = []
        for index in sorted(by_index):
            candidates = by_index[index]
            standing = next((a for a in candidates if a.status in ("booked", "checked_in", "completed")),
                            max(candidates, key=lambda a: (a.updated_at, a.id)))
            gone = False
            if standing.status in ("cancelled", "no_show"):
                # No free time left inside its window (the rule book's own options): the rest
                # of the series must be planned again from a new time.
                gone = not reschedule_options(Actor(patient_id, "patient"), standing.id, now=now,
                                              include_current=True)
            lines.append(SessionLine(index, standing, session_state(standing.status, preps.get(standing.id)), gone))
        upcoming = sorted((line.appointment for line in lines
                           if line.appointment.status in ("booked", "checked_in") and line.appointment.end_at > now),
                          key=lambda a: a.start_at)
        following = upcoming[0] if upcoming else None
        next_prep = None
        if following is not None:
            ahead = [s for s in steps_of(following) if s.due > now]
            next_prep = min(ahead, key=lambda s: s.due) if ahead else None
        planned = series.treatment.protocol.sessions if series.treatment.protocol else len(lines)
        views.append(SeriesCourse(series, lines, planned, following, next_prep, course_of_series(series),
                                  recalls.get(series.id)))
    consultation = db.session.scalar(
        select(Appointment).join(Treatment, Treatment.id == Appointment.treatment_id)
        .where(Appointment.patient_id == patient_id, Treatment.kind == "consultation",
               Appointment.status.in_(("booked", "checked_in", "completed")))
        .order_by(Appointment.start_at.desc()).limit(1))
    return CourseView(consultation, views, aftercare_now(patient_id, now=now))


# ---- the timers, together -------------------------------------------------------------------

def run_timers(now: datetime | None = None) -> str:
    """Ask for the prep confirmations that are due and send the recall invitations and
    reminders that are due (``flask course run``; in development the background mail worker);
    safe on several servers at once. Returns what was done, in words."""
    from booking.services.recall import queue_recalls

    asked = queue_prep_checks(now)
    recalls = queue_recalls(now)
    return (f"asked {asked} prep confirmation(s); {recalls.invited} maintenance invitation(s), "
            f"{recalls.reminded} reminder(s); {recalls.booked} recall(s) found booked")


def course_problems(series: Series | None, *, adding: int, starts: list[datetime],
                    index: int | None = None) -> list:
    """The ``course_exceeded`` problem of writing sessions into a prepaid course (``adding`` new
    ones, at ``starts``): past its sessions or its expiry. Staff may go ahead with a reason (the
    warning is audited with the override); a patient is told to contact the clinic."""
    from booking.scheduling.model import Problem
    from booking.scheduling.problems import COURSE_EXCEEDED

    if series is None or series.course_sessions is None or not starts:
        return []
    tz = get_settings().timezone
    warning = course_warning_text(course_of_series(series), adding, max(local_date(s, tz) for s in starts),
                                  series.course_expires_on)
    if warning is None:
        return []
    return [Problem(COURSE_EXCEEDED, gettext("%(warning)s Please contact the clinic.", warning=warning), index)]
