"""Administration: schedules, rooms, the catalogue, settings, users; the audit log and the outbox."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from booking.web.admin import routes, catalog_routes, log_routes  # noqa: E402,F401
