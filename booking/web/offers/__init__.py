"""The page an offer's message links to (issue 15): no sign-in, this offer only."""

from flask import Blueprint

from booking.web.refusals import handle_refusals

bp = Blueprint("offers", __name__)

handle_refusals(bp, home="public.home")

from booking.web.offers import routes  # noqa: E402,F401
