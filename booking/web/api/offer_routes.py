"""Offers in the JSON API (issue 15): held times offered to a patient; accept one (a move keeps
the appointment's id and invite UID, SEQUENCE rises) or decline. 409 ``offer_taken``, 410
``offer_expired``."""

from __future__ import annotations

from booking.models import Offer
from booking.models.base import utcnow
from booking.services import offers
from booking.web.api import SECURITY, actor_required, api, booking_tag, json_response, schemas, serialize
from booking.web.api.hold_routes import _hold



def _offer(offer: Offer) -> schemas.OfferOut:
    return schemas.OfferOut(id=offer.id, kind=offer.kind, status=offer.status, appointment_id=offer.appointment_id,
                            holds=[_hold(h) for h in offers.live_holds(offer, utcnow())],
                            expires_at=serialize.local(offer.expires_at))


@api.get("/offers", tags=[booking_tag], security=SECURITY, responses={200: schemas.OfferList})
def list_offers():
    """The caller's open offers (reception and admin: every open one)."""
    return json_response(schemas.OfferList([_offer(o) for o in offers.open_offers(actor_required())]))


@api.post("/offers/<int:offer_id>/accept", tags=[booking_tag], security=SECURITY,
          responses={200: schemas.AppointmentOut})
def accept_offer(path: schemas.OfferPath, body: schemas.OfferAccept):
    """Take one of the offer's times: the booked or moved appointment. A waitlist offer made
    without holding its time (several patients told) books it if no one was faster (409 ``offer_taken``)."""
    from booking.services import waitlist

    actor = actor_required()
    if offers.load_offer(actor, path.offer_id).unheld:
        appointment = waitlist.accept_unheld(actor, path.offer_id)
    else:
        appointment = offers.accept(actor, path.offer_id, hold_id=body.hold_id)
    return json_response(serialize.appointment(appointment))


@api.post("/offers/<int:offer_id>/decline", tags=[booking_tag], security=SECURITY, responses={200: schemas.OfferOut})
def decline_offer(path: schemas.OfferPath):
    """Say no: the offer's times go back at once."""
    return json_response(_offer(offers.decline(actor_required(), path.offer_id)))
