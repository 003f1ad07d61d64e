"""Administration: schedules, rooms, the catalogue, settings, users; the audit log and the outbox."""

from flask import Blueprint
from flask_babel import gettext as _

from booking.services.errors import ServiceError
from booking.web.refusals import handle_refusals

bp = Blueprint("admin", __name__, url_prefix="/admin")


def describe_refusal(error: ServiceError) -> str:
    """A refused change as a message; nothing was written."""
    return _("%(message)s Nothing was changed.", message=error.message)


handle_refusals(bp, home="admin.index", describe=describe_refusal)

from booking.web.admin import routes, catalog_routes, feed_routes, log_routes  # noqa: E402,F401
