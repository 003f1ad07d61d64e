"""Pages of a signed-in user: their appointments and their calendar subscription links."""

from flask import Blueprint

bp = Blueprint("portal", __name__)

from booking.web.portal import routes  # noqa: E402,F401
