"""Pages of a signed-in user: their appointments and their calendar subscription links."""

from flask import Blueprint
from flask_babel import gettext

from booking.services.clinic import get_settings
from booking.services.errors import RuleViolation, ServiceError
from booking.web.refusals import handle_refusals

bp = Blueprint("portal", __name__)


def describe_refusal(error: ServiceError) -> str:
    """A refusal as one sentence, with the clinic's phone when the patient must call."""
    text = error.message
    if isinstance(error, RuleViolation) and any(p.code == "cancellation_cutoff" for p in error.problems):
        phone = get_settings().phone
        text += " " + gettext("Call us on %(phone)s.", phone=phone) if phone else ""
    return text


# Every form here posts to its own page except revoking a subscription link.
handle_refusals(bp, home="portal.calendar_feeds", describe=describe_refusal)

from booking.web.portal import routes, waitlist_routes  # noqa: E402,F401
