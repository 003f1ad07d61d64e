"""Staff pages."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from booking.web.staff import routes  # noqa: E402,F401
