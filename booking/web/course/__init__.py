"""The course after booking (issue 14): the prep checklist (by its signed link and in the
portal), the patient's course view and maintenance proposal, and reception's call and recall
lists and course view."""

from flask import Blueprint

from booking.web.refusals import handle_refusals

bp = Blueprint("course", __name__)

handle_refusals(bp, home="portal.me")

from booking.web.course import routes  # noqa: E402,F401
