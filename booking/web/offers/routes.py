"""The offer page: the held times, one tap to take one, or "none of these"."""

from __future__ import annotations

from datetime import datetime

from flask import render_template, request
from flask_babel import gettext

from booking.models.base import utcnow
from booking.services import offers
from booking.services.choices import practitioner_names
from booking.services.clinic import get_settings
from booking.web.offers import bp
from booking.web.portal.forms import ConfirmForm
from booking.web.refusals import refusal_page


@bp.route("/offers/<string(maxlength=100):secret>", methods=["GET", "POST"])
def answer(secret: str):
    """Show the offer's times; take one (``hold``) or decline (``decline``)."""
    def refused(error):
        return render_template("offers/closed.html", message=error.message, clinic=get_settings()), error.status

    refusal_page(refused, announce=False)
    form = ConfirmForm()
    if form.validate_on_submit():
        if request.form.get("decline"):
            offers.decline(None, secret=secret)
            return render_template("offers/closed.html", clinic=get_settings(),
                                   message=gettext("Thank you: the times were released. The clinic will be in touch.")), 200
        if request.form.get("time") is not None:  # a waitlist time told to several patients, not held
            from booking.services import waitlist

            appointment = waitlist.accept_unheld(None, secret=secret, index=request.form.get("time", 0, type=int))
            return render_template("offers/taken.html", appointment=appointment, clinic=get_settings())
        hold_id = request.form.get("hold", type=int)
        appointment = offers.accept(None, secret=secret, hold_id=hold_id)
        return render_template("offers/taken.html", appointment=appointment, clinic=get_settings())
    offer = offers.offer_by_link(secret)
    if offer.status != "open" or offer.expires_at <= utcnow():
        if offer.status == "taken" and offer.unheld:  # waitlist.TAKEN, in the page's language
            return refused(offers.OfferTaken(gettext("Another patient took this time first; you stay on the waitlist.")))
        if offer.status not in ("open", "expired"):
            return refused(offers.OfferTaken(_offer_was(offer.status)))
        return refused(offers.OfferExpired(gettext("This offer has expired; the times it held went back to the calendar.")))
    unheld = [(datetime.fromisoformat(t["start"]), t["practitioner_id"]) for t in offer.unheld or []]
    return render_template("offers/offer.html", offer=offer, holds=offers.live_holds(offer, utcnow()), form=form,
                           unheld=unheld,
                           names=practitioner_names(), clinic=get_settings())


def _offer_was(status: str) -> str:
    """Why a closed offer cannot be answered any more, in the page's language."""
    words = {"accepted": gettext("This offer was accepted already."),
             "declined": gettext("This offer was declined already."),
             "taken": gettext("This offer was taken already."),
             "withdrawn": gettext("This offer was withdrawn already.")}
    return words.get(status) or gettext("This offer was %(status)s already.", status=status)
