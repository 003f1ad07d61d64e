"""The waitlist (issue 15): patients asking for an earlier or different time, offered freed times.

A request is for a booked session (``appointment_id``: an earlier or different time for it) or
for a new one of a treatment, with the patient's preferences (practitioners, weekdays, time of
day, the latest acceptable date). The allowed window is the rule book's, never the patient's
guess: ``candidates`` asks the same free-time search the booking pages use for that patient
(``choices.reschedule_options`` for a booked session, ``availability.available_slots`` for a
new one) and only narrows it by the preferences.

**Order (fair, stated).** Waiting requests are served oldest first (``created_at``, then id);
for one request the times are ordered by closest fit: nearest to the freed time when a time
was freed (the freed time itself first), then earliest.

**When time frees up** (a cancellation or a move: ``changes.AFTER_FREED``) the freed time is
matched right after the change's commit, in its own transaction, over that one day only: a
single query reads the waiting requests whose latest date and preferred practitioners allow
it, and the rule book is asked only for those, oldest first, until one is offered. A failure
there is logged and never undoes the cancellation. The full sweep (new hours, closures lifted,
anything missed) runs in ``flask waitlist run`` (``run``), which also closes lapsed requests;
the sweep offers each waiting request up to three held times in either mode (a time no one
freed just now is not a race to announce). An accepted offer that moves a booked session frees
its old time without this hook (``offers.accept`` moves it directly): the next sweep offers it.

**Modes** (``WAITLIST_MODE``): ``one`` (default): the first matching request is offered the
time as a hold (``offers.make_offer``); if the offer is declined or lapses (``offers.AFTER_CLOSED``)
the time passes to the next matching request, and the first request waits again (that time is
not offered to it twice). ``several``: up to ``SEVERAL`` matching requests are each sent an
offer of the time without holding it (``Offer.unheld``); the first to accept books it
(``accept_unheld``) and the others answer 409 ``offer_taken``.

Every offer and outcome is audited (``waitlist.*``) and listed on reception's waitlist page.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext, lazy_gettext
from sqlalchemy import or_, select

from booking.database import begin_write, retry_deadlocks
from booking.extensions import db
from booking.mail import rendering
from booking.mail.notifications import at_time, named
from booking.mail.outbox import enqueue
from booking.models import Appointment, AuditEvent, Offer, Treatment, User, WaitlistRequest
from booking.models.access import hash_secret
from booking.models.base import utcnow
from booking.scheduling import ProposedSession, Slot
from booking.scheduling.clock import local_date, to_local
from booking.services import audit, changes, choices, offers
from booking.services.actor import Actor
from booking.services.availability import MAX_DAYS, available_slots
from booking.services.booking import Booking, write_sessions
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest, NotFound, RuleViolation
from booking.services.loading import load_appointment_for, load_treatment, resolve_patient

log = logging.getLogger(__name__)

MODES = ("one", "several")
SEVERAL = 5  # how many requests are notified of one freed time in the "several" mode
SEVERAL_HOURS = 24  # how long an unheld offer may be answered
# Who automatic offers are made by: no one (audited with no actor).
SYSTEM = Actor(None, "system")  # type: ignore[arg-type]
TAKEN = lazy_gettext("Another patient took this time first; you stay on the waitlist.")
ORDER = "oldest request first, then the closest fit (nearest the freed time, then earliest)"


def mode() -> str:
    """The clinic's waitlist mode (``WAITLIST_MODE``): "one" (default) or "several"."""
    value = current_app.config.get("WAITLIST_MODE", "one")
    return value if value in MODES else "one"


# ---- requests --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preferences:
    """What the patient would take, as asked."""

    practitioner_ids: list[int]
    weekdays: list[int]
    from_time: time | None
    to_time: time | None
    latest: date | None


def _validate(treatment: Treatment, prefs: Preferences, today: date) -> Preferences:
    weekdays = sorted(set(prefs.weekdays or []))
    if any(not isinstance(d, int) or not 0 <= d <= 6 for d in weekdays):
        raise InvalidRequest(gettext("Weekdays are numbers from 0 (Monday) to 6 (Sunday)."), code="bad_weekdays")
    if prefs.from_time and prefs.to_time and prefs.from_time >= prefs.to_time:
        raise InvalidRequest(gettext("The earliest time of day must come before the latest."), code="bad_times")
    if prefs.latest is not None and prefs.latest < today:
        raise InvalidRequest(gettext("The latest acceptable date cannot be in the past."), code="bad_latest")
    giving = {p.id for p in treatment.practitioners if p.active}
    chosen = sorted(set(prefs.practitioner_ids or []))
    if any(p not in giving for p in chosen):
        raise InvalidRequest(gettext("Choose practitioners who give %(treatment)s.", treatment=treatment.name),
                             code="bad_practitioners")
    return Preferences(chosen, weekdays, prefs.from_time, prefs.to_time, prefs.latest)


def create_request(actor: Actor, *, treatment_slug: str | None = None, appointment_id: int | None = None,
                   patient_id: int | None = None, practitioner_ids=(), weekdays=(), from_time: time | None = None,
                   to_time: time | None = None, latest: date | None = None,
                   now: datetime | None = None) -> WaitlistRequest:
    """Ask for an earlier or different time: for the booked session ``appointment_id`` or a new
    one of ``treatment_slug``. Patients for themselves; reception and admins for a patient."""
    now = now or utcnow()
    begin_write(db.session)
    appointment = None
    if appointment_id is not None:
        appointment = load_appointment_for(actor, appointment_id)
        if appointment.status != "booked":
            raise InvalidRequest(gettext("Only a booked session can be asked to move earlier."), code="not_booked")
        if actor.is_staff and not actor.can_book_for_others:
            raise Forbidden(gettext("Practitioners can read the calendar; reception handles the waitlist."))
        treatment, patient = appointment.treatment, appointment.patient
        if treatment_slug and treatment_slug != treatment.slug:
            raise InvalidRequest(gettext("The treatment is the booked session's."), code="bad_treatment")
    else:
        if not treatment_slug:
            raise InvalidRequest(gettext("Say which treatment (or which booked session) this is for."),
                                 code="treatment_required")
        treatment = load_treatment(treatment_slug)
        patient = resolve_patient(actor, patient_id)
        if patient is None or patient.role != "patient":
            raise NotFound(gettext("There is no such patient."))
    prefs = _validate(treatment, Preferences(list(practitioner_ids or []), list(weekdays or []), from_time, to_time,
                                             latest), local_date(now, get_settings().timezone))
    open_one = db.session.scalar(select(WaitlistRequest.id).where(
        WaitlistRequest.patient_id == patient.id, WaitlistRequest.treatment_id == treatment.id,
        WaitlistRequest.status.in_(("waiting", "offered")),
        WaitlistRequest.appointment_id.is_(None) if appointment is None
        else WaitlistRequest.appointment_id == appointment.id))
    if open_one is not None:
        raise InvalidRequest(gettext("There is a waiting request for this already; withdraw it to ask again."),
                             code="already_waiting")
    request = WaitlistRequest(patient_id=patient.id, treatment_id=treatment.id,
                              appointment_id=appointment.id if appointment else None,
                              practitioner_ids=prefs.practitioner_ids, weekdays=prefs.weekdays,
                              from_time=prefs.from_time, to_time=prefs.to_time, latest=prefs.latest,
                              status="waiting", created_at=now, created_by_id=actor.user_id)
    db.session.add(request)
    db.session.flush()
    audit.record("waitlist.requested", actor_id=actor.user_id, entity_type="waitlist_request", entity_id=request.id,
                 patient_id=patient.id, appointment_id=request.appointment_id,
                 after={"treatment": treatment.slug, "practitioner_ids": prefs.practitioner_ids,
                        "weekdays": prefs.weekdays, "from_time": str(prefs.from_time or ""),
                        "to_time": str(prefs.to_time or ""), "latest": str(prefs.latest or "")})
    db.session.commit()
    return request


def list_requests(actor: Actor, *, active_only: bool = False) -> list[WaitlistRequest]:
    """The caller's requests (patients) or every one (reception, admin), oldest first."""
    if actor.is_staff and not actor.can_book_for_others:
        raise Forbidden(gettext("Practitioners can read the calendar; reception handles the waitlist."))
    query = select(WaitlistRequest).order_by(WaitlistRequest.created_at, WaitlistRequest.id)
    if actor.is_patient:
        query = query.where(WaitlistRequest.patient_id == actor.user_id)
    if active_only:
        query = query.where(WaitlistRequest.status.in_(("waiting", "offered")))
    return list(db.session.scalars(query))


def load_request(actor: Actor, request_id: int) -> WaitlistRequest:
    """A request the caller may see; else 404."""
    if actor.is_staff and not actor.can_book_for_others:
        raise Forbidden(gettext("Practitioners can read the calendar; reception handles the waitlist."))
    request = db.session.get(WaitlistRequest, request_id)
    if request is None or (actor.is_patient and request.patient_id != actor.user_id):
        raise NotFound(gettext("There is no waitlist request %(id)s.", id=request_id))
    return request


def withdraw(actor: Actor, request_id: int, *, now: datetime | None = None) -> WaitlistRequest:
    """Stop waiting: the request closes and its open offers are withdrawn (their times go back)."""
    now = now or utcnow()
    begin_write(db.session)
    request = load_request(actor, request_id)
    if request.status in ("waiting", "offered"):
        for offer in request.offers:
            if offer.status == "open":
                offers._release(offer, except_id=None)
                offer.status, offer.answered_at = "withdrawn", now
        request.status = "withdrawn"
        audit.record("waitlist.withdrawn", actor_id=actor.user_id, entity_type="waitlist_request",
                     entity_id=request.id, patient_id=request.patient_id, appointment_id=request.appointment_id)
    db.session.commit()
    return request


# ---- matching --------------------------------------------------------------------------------

def _fits(request: WaitlistRequest, slot: Slot, tz: str) -> bool:
    """Whether a time suits the request's own preferences (the rules were applied already)."""
    start, end = to_local(slot.start, tz), to_local(slot.end, tz)
    if request.practitioner_ids and slot.practitioner_id not in request.practitioner_ids:
        return False
    if request.weekdays and start.weekday() not in request.weekdays:
        return False
    if request.from_time and start.time() < request.from_time:
        return False
    if request.to_time and (end.date() > start.date() or end.time() > request.to_time):
        return False
    if request.latest and start.date() > request.latest:
        return False
    return True


def _offered_before(request: WaitlistRequest) -> set[tuple[str, int]]:
    """The times already offered to this request (not offered twice)."""
    seen: set[tuple[str, int]] = set()
    for after in db.session.scalars(select(AuditEvent.after).where(
            AuditEvent.action == "waitlist.offered", AuditEvent.entity_type == "waitlist_request",
            AuditEvent.entity_id == request.id)):
        for t in (after or {}).get("times", []):
            seen.add((t["start"], t["practitioner_id"]))
    return seen


def candidates(request: WaitlistRequest, now: datetime, *, freed: tuple[datetime, datetime] | None = None) -> list[Slot]:
    """Free times the rule book allows this patient for the request, narrowed by its
    preferences and latest date, closest fit first. With ``freed`` only the times meeting that
    interval (one day's search)."""
    tz = get_settings().timezone
    today = local_date(now, tz)
    patient = Actor(request.patient_id, "patient")
    if request.appointment_id is not None:
        appointment = db.session.get(Appointment, request.appointment_id)
        if appointment is None or appointment.status != "booked":
            return []
        slots = choices.reschedule_options(patient, appointment.id, now=now)
    else:
        first_day = local_date(freed[0], tz) if freed else today
        last_day = local_date(freed[1], tz) if freed else today + timedelta(days=MAX_DAYS - 1)
        if request.latest:
            last_day = min(last_day, request.latest)
        if last_day < first_day:
            return []
        answer = available_slots(patient, treatment_slug=request.treatment.slug, first_day=max(first_day, today),
                                 last_day=last_day, now=now, reuse=False) if last_day >= today else None
        if answer is None or answer.treatment_slug != request.treatment.slug:
            return []  # nothing, or the consultation must come first
        slots = answer.slots
    if freed:
        slots = [s for s in slots if s.start < freed[1] and s.end > freed[0]]
    seen = _offered_before(request)
    fitting = [s for s in slots if _fits(request, s, tz) and (s.start.isoformat(), s.practitioner_id) not in seen]
    anchor = freed[0] if freed else now
    return sorted(fitting, key=lambda s: (abs((s.start - anchor).total_seconds()) if freed else 0, s.start,
                                          s.practitioner_id))


def _waiting(day: date | None, practitioner_id: int | None) -> list[WaitlistRequest]:
    """The waiting requests that could take a time on ``day`` with ``practitioner_id``: one query,
    oldest first (the practitioner preference, a JSON list, is read here)."""
    query = select(WaitlistRequest).where(WaitlistRequest.status == "waiting").order_by(
        WaitlistRequest.created_at, WaitlistRequest.id)
    if day is not None:
        query = query.where(or_(WaitlistRequest.latest.is_(None), WaitlistRequest.latest >= day))
    found = list(db.session.scalars(query))
    if practitioner_id is not None:
        found = [r for r in found if not r.practitioner_ids or practitioner_id in r.practitioner_ids]
    if day is not None:
        found = [r for r in found if not r.weekdays or day.weekday() in r.weekdays]
    return found


def _could_take(requests: list[WaitlistRequest], start: datetime, end: datetime) -> list[WaitlistRequest]:
    """Those whose time of day can meet ``[start, end)`` (a cheap filter before the rule book)."""
    tz = get_settings().timezone
    low, high = to_local(start, tz), to_local(end, tz)
    if low.date() != high.date():
        return requests
    return [r for r in requests if not (r.to_time and r.to_time <= low.time())
            and not (r.from_time and r.from_time >= high.time())]


def _times(slots) -> list[dict]:
    return [{"start": s.start.isoformat(), "practitioner_id": s.practitioner_id} for s in slots]


def _offer_held(request: WaitlistRequest, slots: list[Slot], now: datetime) -> Offer | None:
    made = offers.make_offer(SYSTEM, kind="waitlist", patient=request.patient,
                             treatment=request.treatment, slots=slots[:offers.MAX_TIMES],
                             appointment=request.appointment, request=request,
                             expires_at=offers.offer_window("waitlist", now), now=now)
    if made is None:
        return None
    held = [Slot(h.start_at, h.end_at, h.practitioner_id, h.room_id) for h in made.offer.holds]
    _mark_offered(request, made.offer, held, "one")
    return made.offer


def _mark_offered(request: WaitlistRequest, offer: Offer, slots: list[Slot], how: str) -> None:
    request.status = "offered"
    audit.record("waitlist.offered", actor_id=None, entity_type="waitlist_request", entity_id=request.id,
                 patient_id=request.patient_id, appointment_id=request.appointment_id,
                 after={"offer_id": offer.id, "mode": how, "times": _times(slots), "order": ORDER})


def _offer_unheld(request: WaitlistRequest, slots: list[Slot], now: datetime) -> Offer:
    offer = Offer(kind="waitlist", patient_id=request.patient_id, treatment_id=request.treatment_id,
                  appointment_id=request.appointment_id, request_id=request.id, status="open",
                  expires_at=now + timedelta(hours=SEVERAL_HOURS), unheld=_times(slots[:1]))
    db.session.add(offer)
    db.session.flush()
    secret = secrets.token_urlsafe(32)
    offer.link_hash = hash_secret(secret)
    _mark_offered(request, offer, slots[:1], "several")
    _queue_unheld_message(offer, secret)
    return offer


def _queue_unheld_message(offer: Offer, secret: str) -> None:
    settings = get_settings()
    mail = rendering.installed()
    patient = db.session.get(User, offer.patient_id)
    with rendering.written_for(patient, settings):  # the patient's language (issue 16)
        times = [at_time(datetime.fromisoformat(t["start"]), settings) for t in offer.unheld]
        text, html = mail.render("waitlist_offer", offer=offer, patient=patient,
                                 times=times, link=f"{mail.base_url}/offers/{secret}", clinic=settings,
                                 named=named(settings), until=to_local(offer.expires_at, settings.timezone))
        enqueue(kind="offer.waitlist", to_addr=patient.email,
                subject=gettext("A time has come free at %(clinic)s", clinic=settings.name), body_text=text,
                body_html=html, appointment_id=offer.appointment_id, dedupe_key=f"offer:{offer.id}")


def _serve(requests: list[WaitlistRequest], now: datetime, freed: tuple[datetime, datetime] | None) -> list[Offer]:
    """Offer times to ``requests`` in order, by the clinic's mode; the offers made."""
    made: list[Offer] = []
    several = mode() == "several"
    for request in requests:
        if request.status != "waiting":
            continue
        found = candidates(request, now, freed=freed)
        if not found:
            continue
        if several and freed is not None:
            made.append(_offer_unheld(request, found, now))
            if len(made) == SEVERAL:
                break
            continue
        offer = _offer_held(request, found, now)
        if offer is not None:
            made.append(offer)
            if freed is not None:
                break  # one at a time: the next request gets it only if this one says no
    return made


def on_time_freed(start: datetime, end: datetime, practitioner_id: int | None, now: datetime | None = None,
                  *, commit: bool = True) -> list[Offer]:
    """Time ``[start, end)`` with ``practitioner_id`` came free: offer it to the matching waiting
    requests in the stated order and mode. Returns the offers made."""
    now = now or utcnow()
    if end <= now:
        return []
    day = local_date(start, get_settings().timezone)
    if commit:
        if not _could_take(_waiting(day, practitioner_id), start, end):  # the common case: no one waits, no write lock taken
            db.session.rollback()
            return []
        begin_write(db.session)
    made = _serve(_could_take(_waiting(day, practitioner_id), start, end), now, (max(start, now), end))
    if commit:
        db.session.commit()
    return made


def _after_freed(start: datetime, end: datetime, practitioner_id: int | None, now: datetime) -> None:
    """``changes.AFTER_FREED``: runs after the change committed; never undoes it."""
    try:
        on_time_freed(start, end, practitioner_id, now)
    except Exception:  # noqa: BLE001 - the waitlist must not turn a done cancellation into an error
        db.session.rollback()
        log.exception("waitlist: offering a freed time failed; flask waitlist run will try again")


def _after_closed(offer: Offer, now: datetime) -> None:
    """``offers.AFTER_CLOSED`` (declined or expired, in that transaction): the request waits
    again, and in the "one" mode the time passes to the next matching request."""
    if offer.kind != "waitlist" or offer.request_id is None:
        return
    request = db.session.get(WaitlistRequest, offer.request_id)
    if request is None or request.status != "offered":
        return
    request.status = "waiting"
    audit.record(f"waitlist.{offer.status}", actor_id=None, entity_type="waitlist_request", entity_id=request.id,
                 patient_id=request.patient_id, appointment_id=request.appointment_id,
                 after={"offer_id": offer.id})
    if offer.unheld:
        return  # several were told at once; nothing to pass on
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "waitlist.offered", AuditEvent.entity_type == "waitlist_request",
        AuditEvent.entity_id == request.id).order_by(AuditEvent.id.desc()))
    times = (event.after or {}).get("times", []) if event and (event.after or {}).get("offer_id") == offer.id else []
    for t in times:
        begin = datetime.fromisoformat(t["start"])
        length = timedelta(minutes=request.treatment.duration_minutes)
        day = local_date(begin, get_settings().timezone)
        others = [r for r in _waiting(day, t["practitioner_id"]) if r.id != request.id]
        if _serve(others, now, (max(begin, now), begin + length)):
            break


def _expire_requests(now: datetime) -> int:
    today = local_date(now, get_settings().timezone)
    lapsed = list(db.session.scalars(select(WaitlistRequest).where(
        WaitlistRequest.status == "waiting", WaitlistRequest.latest.is_not(None), WaitlistRequest.latest < today)))
    for request in lapsed:
        request.status = "expired"
        audit.record("waitlist.expired", actor_id=None, entity_type="waitlist_request", entity_id=request.id,
                     patient_id=request.patient_id, appointment_id=request.appointment_id)
    return len(lapsed)


def run(now: datetime | None = None) -> tuple[int, int]:
    """The timer's sweep (``flask waitlist run``): close requests past their latest date, then
    offer every waiting request (oldest first) a time the rule book allows, if there is one.
    Returns (offers made, requests closed)."""
    now = now or utcnow()
    begin_write(db.session)
    closed = _expire_requests(now)
    made = 0
    for request in _waiting(None, None):
        try:
            with db.session.begin_nested():
                made += len(_serve([request], now, None))
        except RuleViolation:
            continue
    db.session.commit()
    return made, closed


# ---- several notified: the first to accept wins ---------------------------------------------

@retry_deadlocks
def accept_unheld(actor: Actor | None, offer_id: int | None = None, *, secret: str | None = None,
                  index: int = 0, now: datetime | None = None) -> Appointment:
    """Take a time of an offer made without holding it: book it (or move the request's session
    to it) if it is still free, in one transaction; the other patients told of it then answer
    409 ``offer_taken``."""
    now = now or utcnow()
    begin_write(db.session)
    offer = (offers.offer_by_link(secret, for_update=True) if secret
             else offers.load_offer(actor, offer_id, for_update=True))
    if offer.status == "taken":
        raise offers.OfferTaken(str(TAKEN))
    offers._check_open(offer, now)
    if not offer.unheld or not 0 <= index < len(offer.unheld):
        raise offers.OfferTaken(gettext("That time is not part of this offer."))
    chosen = offer.unheld[index]
    start, practitioner_id = datetime.fromisoformat(chosen["start"]), int(chosen["practitioner_id"])
    acting = actor or Actor(offer.patient_id, "patient")
    patient_actor = Actor(offer.patient_id, "patient") if acting.is_patient else acting
    try:
        with db.session.begin_nested():
            if offer.appointment_id is not None:
                appointment = db.session.get(Appointment, offer.appointment_id)
                if appointment is None or appointment.status != "booked":
                    raise offers.OfferTaken(gettext("The appointment this offer was about has changed; nothing was moved."))
                changes.move(patient_actor, appointment, start=start, practitioner_id=practitioner_id,
                             override_reason=None, now=now, check_cutoff=False)
                result = appointment
            else:
                written, _ = write_sessions(Booking(patient_actor, offer.treatment, offer.patient,
                                                    [ProposedSession(start, practitioner_id, None, None)], None, now))
                result = written[0]
    except RuleViolation:
        offer.status, offer.answered_at = "taken", now
        if offer.request is not None and offer.request.status == "offered":
            offer.request.status = "waiting"
        audit.record("waitlist.taken", actor_id=acting.user_id, entity_type="offer", entity_id=offer.id,
                     patient_id=offer.patient_id, appointment_id=offer.appointment_id,
                     after={"start": chosen["start"]})
        db.session.commit()
        raise offers.OfferTaken(str(TAKEN)) from None
    offer.status, offer.answered_at, offer.result_appointment_id = "accepted", now, result.id
    if offer.request is not None:
        offer.request.status = "booked"
    audit.record("offer.accepted", actor_id=acting.user_id, entity_type="offer", entity_id=offer.id,
                 patient_id=offer.patient_id, appointment_id=result.id,
                 after={"kind": offer.kind, "start": result.start_at.isoformat(), "unheld": True})
    _close_siblings(offer, chosen, now)
    db.session.commit()
    return result


def _close_siblings(winner: Offer, chosen: dict, now: datetime) -> None:
    """The other open offers of the same time: taken (their requests wait again)."""
    for other in db.session.scalars(select(Offer).where(Offer.status == "open", Offer.id != winner.id,
                                                        Offer.kind == "waitlist")):
        if any(t["start"] == chosen["start"] and t["practitioner_id"] == chosen["practitioner_id"]
               for t in other.unheld or []):
            other.status, other.answered_at = "taken", now
            if other.request is not None and other.request.status == "offered":
                other.request.status = "waiting"
            audit.record("waitlist.taken", actor_id=None, entity_type="offer", entity_id=other.id,
                         patient_id=other.patient_id, appointment_id=other.appointment_id,
                         after={"start": chosen["start"], "by_offer": winner.id})


# ---- what reception sees --------------------------------------------------------------------

def history(request_ids: list[int]) -> dict[int, list[AuditEvent]]:
    """The waitlist events (offers made and their outcomes) of each request, oldest first."""
    if not request_ids:
        return {}
    found: dict[int, list[AuditEvent]] = {i: [] for i in request_ids}
    for event in db.session.scalars(select(AuditEvent).where(
            AuditEvent.entity_type == "waitlist_request", AuditEvent.entity_id.in_(request_ids),
            AuditEvent.action.like("waitlist.%")).order_by(AuditEvent.id)):
        found[event.entity_id].append(event)
    return found


changes.AFTER_FREED.append(_after_freed)
offers.AFTER_CLOSED.append(_after_closed)
