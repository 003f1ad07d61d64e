"""Offers (issue 15): up to three held times offered to one patient.

An offer is for a new booking (a waitlist request) or to move an appointment (re-planning after
an absence, or a waitlist request for an earlier time of a booked session). Its times are holds
(``services.holds``): busy for everyone else until the offer expires. The patient answers
through a signed link (no sign-in, this offer only) or the API: accepting one time books it (a
move keeps the appointment's id and invite UID, with a higher SEQUENCE) and releases the
others, all in one transaction; declining releases them all; an unanswered offer expires
(``expire_offers``, the ``flask waitlist run`` timer), and whoever made it sees it come back.
Accepting an offer that another patient's acceptance made impossible answers 409
``offer_taken``; an expired one 410 ``offer_expired``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext, lazy_gettext
from sqlalchemy import delete, select

from booking.database import begin_write, retry_deadlocks
from booking.extensions import db
from booking.mail import rendering
from booking.mail.notifications import named, when
from booking.mail.outbox import enqueue
from booking.models import HELD, Appointment, Offer, Treatment, User, WaitlistRequest
from booking.models.access import hash_secret
from booking.models.base import utcnow
from booking.scheduling import ProposedSession, Slot
from booking.scheduling.clock import to_local
from booking.services import audit, changes, holds
from booking.services.actor import Actor
from booking.services.booking import Booking, write_sessions
from booking.services.clinic import get_settings
from booking.services.errors import Forbidden, InvalidRequest, NotFound, RuleViolation, ServiceError

MAX_TIMES = 3
REPLAN_HOURS = 24  # how long a re-planning offer holds its times
WAITLIST_MINUTES = 120  # how long a waitlist offer holds its time


class OfferExpired(ServiceError):
    """The offer ran out (410)."""

    status = 410
    code = "offer_expired"


class OfferTaken(ServiceError):
    """The offer can no longer be accepted: answered already, withdrawn, or its time went (409)."""

    status = 409
    code = "offer_taken"


@dataclass(frozen=True)
class Made:
    """An offer just made and the secret of its link (shown once, in the message)."""

    offer: Offer
    secret: str


def make_offer(actor: Actor, *, kind: str, patient: User, treatment: Treatment, slots: Sequence[Slot],
               appointment: Appointment | None = None, request: WaitlistRequest | None = None,
               expires_at: datetime, now: datetime, message: bool = True) -> Made | None:
    """Hold up to three of ``slots`` for ``patient`` until ``expires_at`` and tell them, in the
    caller's transaction. A time that cannot be held (taken meanwhile) is skipped; None when
    none could be. Audited."""
    if kind not in ("waitlist", "replan"):
        raise InvalidRequest(gettext("Unknown offer kind %(kind)s.", kind=repr(kind)))
    offer = Offer(kind=kind, patient_id=patient.id, treatment_id=treatment.id,
                  appointment_id=appointment.id if appointment else None, request_id=request.id if request else None,
                  expires_at=expires_at, created_by_id=actor.user_id, status="open")
    db.session.add(offer)
    db.session.flush()
    held = 0
    ignoring = frozenset({appointment.id}) if appointment is not None else frozenset()
    for slot in slots:
        if held == MAX_TIMES:
            break
        try:
            with db.session.begin_nested():
                write_sessions(Booking(
                    Actor(patient.id, "patient"), treatment, patient,
                    [ProposedSession(slot.start, slot.practitioner_id, None, None)], None, now,
                    hold_until=expires_at, offer_id=offer.id, ignoring=ignoring,
                ))
        except RuleViolation:
            continue  # taken or no longer valid a moment ago: offer the others
        held += 1
    if not held:
        db.session.delete(offer)
        db.session.flush()
        return None
    secret = secrets.token_urlsafe(32)
    offer.link_hash = hash_secret(secret)
    db.session.flush()
    audit.record("offer.made", actor_id=actor.user_id, entity_type="offer", entity_id=offer.id,
                 patient_id=patient.id, appointment_id=appointment.id if appointment else None,
                 after={"kind": kind, "times": held, "expires_at": expires_at.isoformat()})
    if message:
        _queue_message(offer, secret)
    return Made(offer, secret)


def _queue_message(offer: Offer, secret: str) -> None:
    settings = get_settings()
    mail = rendering.installed()
    db.session.refresh(offer)
    link = f"{mail.base_url}/offers/{secret}"
    with rendering.written_for(offer.patient, settings):  # the patient's language (issue 16)
        times = [when(h, settings) for h in offer.holds]
        subject = (gettext("A new time for your appointment at %(clinic)s", clinic=settings.name)
                   if offer.kind == "replan" else gettext("A time has come free at %(clinic)s", clinic=settings.name))
        text, html = mail.render("offer", offer=offer, times=times, link=link, clinic=settings, named=named(settings),
                                 until=to_local(offer.expires_at, settings.timezone), manage_url=mail.manage_url,
                                 moving=when(offer.appointment, settings) if offer.appointment else None)
        enqueue(kind=f"offer.{offer.kind}", to_addr=offer.patient.email, subject=subject, body_text=text,
                body_html=html, appointment_id=offer.appointment_id, dedupe_key=f"offer:{offer.id}")


# ---- reading an offer -------------------------------------------------------------------------

def load_offer(actor: Actor, offer_id: int, *, for_update: bool = False) -> Offer:
    """An offer the caller may see: their own (patients) or any (reception, admin); else 404."""
    if actor.is_staff and not actor.can_book_for_others:
        raise Forbidden(gettext("Practitioners can read the calendar; reception handles offers."))
    query = select(Offer).where(Offer.id == offer_id)
    if for_update and db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    offer = db.session.scalar(query)
    if offer is None or (actor.is_patient and offer.patient_id != actor.user_id):
        raise NotFound(gettext("There is no offer %(id)s.", id=offer_id))
    return offer


def offer_by_link(secret: str, *, for_update: bool = False) -> Offer:
    """The offer a link opens (the link is its key, for this offer only); else NotFound."""
    query = select(Offer).where(Offer.link_hash == hash_secret(secret))
    if for_update and db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    offer = db.session.scalar(query)
    if offer is None:
        raise NotFound(gettext("This offer link is not valid."))
    return offer


def open_offers(actor: Actor) -> list[Offer]:
    """The caller's open offers (patients) or every open one (reception, admin)."""
    if actor.is_staff and not actor.can_book_for_others:
        raise Forbidden(gettext("Practitioners can read the calendar; reception handles offers."))
    query = select(Offer).where(Offer.status == "open").order_by(Offer.expires_at, Offer.id)
    if actor.is_patient:
        query = query.where(Offer.patient_id == actor.user_id)
    return list(db.session.scalars(query))


def live_holds(offer: Offer, now: datetime) -> list[Appointment]:
    """The offer's times still held."""
    return [h for h in offer.holds if h.status == HELD and h.hold_expires_at and h.hold_expires_at > now]


# ---- answering ----------------------------------------------------------------------------------

# Why an answered offer cannot be answered again, one sentence per status.
_ANSWERED = {
    "accepted": lazy_gettext("This offer was accepted already."),
    "declined": lazy_gettext("This offer was declined already."),
    "withdrawn": lazy_gettext("This offer was withdrawn already."),
    "taken": lazy_gettext("This offer was taken already."),
}


def _check_open(offer: Offer, now: datetime) -> None:
    if offer.status == "expired" or (offer.status == "open" and offer.expires_at <= now):
        raise OfferExpired(gettext("This offer has expired; the times it held went back to the calendar."))
    if offer.status != "open":
        answered = _ANSWERED.get(offer.status)
        raise OfferTaken(str(answered) if answered is not None else
                         gettext("This offer was %(status)s already.", status=offer.status))


@retry_deadlocks
def accept(actor: Actor | None, offer_id: int | None = None, *, secret: str | None = None,
           hold_id: int | None = None, now: datetime | None = None) -> Appointment:
    """Take one of the offer's times (``hold_id``; default the first): book it, or move the
    offer's appointment to it (same id and UID, SEQUENCE + 1); release the other times. One
    transaction. By the patient (signed in, or with the link) or reception for them."""
    now = now or utcnow()
    begin_write(db.session)
    offer = offer_by_link(secret, for_update=True) if secret else load_offer(actor, offer_id, for_update=True)
    _check_open(offer, now)
    choices = live_holds(offer, now)
    hold = next((h for h in choices if hold_id is None or h.id == hold_id), None)
    if hold is None:
        if hold_id is not None and any(h.id == hold_id for h in offer.holds):
            raise OfferExpired(gettext("That time is no longer held; choose another one of the offer."))
        raise (OfferTaken if hold_id is not None else OfferExpired)(
            gettext("That time is not part of this offer.") if hold_id is not None
            else gettext("No time of this offer is held any more."))
    acting = actor or Actor(offer.patient_id, "patient")
    if offer.appointment_id is not None:
        appointment = db.session.get(Appointment, offer.appointment_id)
        if appointment is None or appointment.status != "booked":
            raise OfferTaken(gettext("The appointment this offer was about has changed; nothing was moved."))
        start, practitioner_id = hold.start_at, hold.practitioner_id
        _release(offer, except_id=None)  # its time is free the moment the appointment moves into it
        changes.move(Actor(offer.patient_id, "patient") if acting.is_patient else acting, appointment,
                     start=start, practitioner_id=practitioner_id, override_reason=None, now=now,
                     check_cutoff=False)
        result = appointment
    else:
        result = holds.accept(hold, actor_id=acting.user_id, now=now)
        _release(offer, except_id=hold.id)
    offer.status, offer.answered_at, offer.result_appointment_id = "accepted", now, result.id
    if offer.request_id is not None:
        request = db.session.get(WaitlistRequest, offer.request_id)
        if request is not None:
            request.status = "booked"
    audit.record("offer.accepted", actor_id=acting.user_id, entity_type="offer", entity_id=offer.id,
                 patient_id=offer.patient_id, appointment_id=result.id,
                 after={"kind": offer.kind, "start": result.start_at.isoformat()})
    db.session.commit()
    return result


def decline(actor: Actor | None, offer_id: int | None = None, *, secret: str | None = None,
            now: datetime | None = None) -> Offer:
    """Say no to an offer: its times go back at once; audited."""
    now = now or utcnow()
    begin_write(db.session)
    offer = offer_by_link(secret, for_update=True) if secret else load_offer(actor, offer_id, for_update=True)
    _check_open(offer, now)
    _release(offer, except_id=None)
    offer.status, offer.answered_at = "declined", now
    audit.record("offer.declined", actor_id=(actor.user_id if actor else offer.patient_id), entity_type="offer",
                 entity_id=offer.id, patient_id=offer.patient_id, appointment_id=offer.appointment_id)
    db.session.flush()
    _after_closed(offer, now)
    db.session.commit()
    return offer


def _release(offer: Offer, *, except_id: int | None) -> None:
    """Give back the offer's held times (all, or all but one)."""
    query = delete(Appointment).where(Appointment.offer_id == offer.id, Appointment.status == HELD)
    if except_id is not None:
        query = query.where(Appointment.id != except_id)
    db.session.execute(query.execution_options(synchronize_session=False))
    db.session.flush()
    db.session.expire(offer, ["holds"])


def expire_offers(now: datetime | None = None) -> int:
    """Close the open offers that ran out and give back their times (``flask waitlist run``);
    each goes back to whoever made it (a waitlist offer passes to the next request)."""
    now = now or utcnow()
    begin_write(db.session)
    offers = list(db.session.scalars(select(Offer).where(Offer.status == "open", Offer.expires_at <= now)))
    for offer in offers:
        _release(offer, except_id=None)
        offer.status = "expired"
        audit.record("offer.expired", actor_id=None, entity_type="offer", entity_id=offer.id,
                     patient_id=offer.patient_id, appointment_id=offer.appointment_id)
        db.session.flush()
        _after_closed(offer, now)
    db.session.commit()
    return len(offers)


# Called when an offer closes without being accepted (declined or expired): the waitlist passes
# the time to the next request; re-planning offers simply come back to reception's list.
AFTER_CLOSED: list = []


def _after_closed(offer: Offer, now: datetime) -> None:
    for hook in AFTER_CLOSED:
        hook(offer, now)


def offer_window(kind: str, now: datetime) -> datetime:
    """When an offer made now expires."""
    return now + (timedelta(hours=REPLAN_HOURS) if kind == "replan" else timedelta(minutes=WAITLIST_MINUTES))
