"""The patient's booking wizard: consultation first, then the whole series."""

from flask import Blueprint

bp = Blueprint("book", __name__, url_prefix="/book")

from booking.web.book import confirm_routes, routes  # noqa: E402,F401
