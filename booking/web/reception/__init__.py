"""Reception: the clinic calendar, booking on behalf of patients, the appointment panel, the day sheet."""

from flask import Blueprint

bp = Blueprint("reception", __name__, url_prefix="/reception")

from booking.web.reception import routes, booking_routes  # noqa: E402,F401
