"""Staff pages."""

from flask import Blueprint

from booking.web.refusals import handle_refusals

bp = Blueprint("staff", __name__, url_prefix="/staff")
handle_refusals(bp, home="staff.mailbox")

from booking.web.staff import routes  # noqa: E402,F401
