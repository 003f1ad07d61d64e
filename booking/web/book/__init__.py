"""The patient's booking wizard: consultation first, then the whole series."""

from flask import Blueprint

from booking.web.refusals import handle_refusals

bp = Blueprint("book", __name__, url_prefix="/book")
handle_refusals(bp, home="public.home")

from booking.web.book import confirm_routes, routes  # noqa: E402,F401
