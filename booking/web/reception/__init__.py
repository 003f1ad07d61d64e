"""Reception: the clinic calendar, booking on behalf of patients, the appointment panel, the day sheet."""

from flask import Blueprint, request, url_for
from flask_babel import gettext as _

from booking.scheduling.checks import partition_problems
from booking.services.errors import RuleViolation, ServiceError
from booking.web.refusals import handle_refusals

bp = Blueprint("reception", __name__, url_prefix="/reception")


def describe_refusal(error: ServiceError) -> str:
    """A refused action as a message naming each problem, and whether staff may override them."""
    problems = error.problems if isinstance(error, RuleViolation) else []
    # The messages say what is wrong in words; the stable codes are for the API, not the screen.
    text = " ".join(p.message for p in problems) if problems else error.message
    if problems and not partition_problems(problems, staff=True, is_practitioner=False)[1]:
        text += " " + _("Staff may override this with a reason.")
    return _("Not done: %(problems)s", problems=text)


def natural_page() -> str:
    """After a refused action on an appointment its panel, else the calendar."""
    appointment_id = (request.view_args or {}).get("appointment_id")
    if appointment_id is not None:
        return url_for("reception.appointment", appointment_id=appointment_id)
    return url_for("reception.calendar")


handle_refusals(bp, home=natural_page, describe=describe_refusal)

from booking.web.reception import routes, booking_routes, waitlist_routes, replan_routes  # noqa: E402,F401
