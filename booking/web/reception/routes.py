"""Reception views: the calendar page and its JSON feeds, moving by drag, the appointment panel
and its actions, the day sheet, and a practitioner's own schedule."""

from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from booking.extensions import db
from booking.i18n import when
from booking.models import INTAKE_QUESTIONS, Appointment, Practitioner
from booking.models.base import utcnow
from booking.scheduling.checks import partition_problems
from booking.scheduling.clock import local_date, local_to_utc, to_local
from booking.services import changes, clearances, clinic_calendar, course, reception
from booking.services.clinic import get_settings
from booking.services.errors import RuleViolation, ServiceError
from booking.web.access import current_actor, roles_required, safe_next
from booking.web.reception import bp
from booking.web.reception.forms import (
    CancelForm,
    ClearanceForm,
    ConfirmForm,
    DayForm,
    MoveForm,
    PanelMoveForm,
    StatusForm,
)
from booking.web.refusals import refusal_page

STAFF = ("admin", "receptionist", "practitioner")
FRONT_DESK = ("admin", "receptionist")
VIEWS = ("day", "week")
NO_EMAIL = _l("No e-mail: this patient gets no mail or invites.")


def can_edit() -> bool:
    """Reception and admin change bookings; practitioners only look."""
    return current_user.role in FRONT_DESK


def _by() -> str:
    """The calendar's columns: practitioners (default) or rooms."""
    return "room" if request.args.get("by") == "room" else "practitioner"


def _today() -> date:
    """Today on the clinic's wall clock."""
    return local_date(utcnow(), get_settings().timezone)


def _day_arg() -> date:
    """The ``date`` query argument, or today when missing or malformed."""
    try:
        return date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        return _today()


def _chosen() -> frozenset[int] | None:
    """The practitioners chosen with ``?p=1&p=3`` (None: all); ValueError for a non-number."""
    return clinic_calendar.chosen_practitioners(request.args.getlist("p"))


@bp.route("")
@roles_required(*STAFF)
def calendar():
    """The clinic calendar: a column per practitioner (or room), day or week; ``?p=1&p=3`` shows
    only those practitioners, and one chosen practitioner's week is a plain week grid."""
    view = request.args.get("view") if request.args.get("view") in VIEWS else ""  # "": the script picks by width
    first, last = clinic_calendar.visible_hours()
    try:
        chosen = _chosen()
    except ValueError:
        chosen = None  # a mangled address shows everyone rather than an error page
    practitioners = _practitioner_choices()
    single = next(iter(chosen)) if chosen is not None and len(chosen) == 1 and _by() == "practitioner" else None
    return render_template("reception/calendar.html", clinic=get_settings(), by=_by(), view=view,
                           day=_day_arg(), editable=can_edit(), slot_min=first, slot_max=last,
                           focus=request.args.get("focus", type=int), practitioners=practitioners,
                           chosen=sorted(chosen) if chosen is not None else [], single=single,
                           clinic_offset=clinic_calendar.utc_offset(utcnow(), get_settings().timezone))


def _bad_practitioners():
    """The 400 answer to a ``p`` that is not a practitioner id."""
    return jsonify({"error": {"code": "bad_practitioner",
                              "message": _("Give practitioners as whole-number ids: ?p=1&p=3.")}}), 400


def _window():
    """The [start, end) of a feed request in UTC, or a 400 answer."""
    try:
        return clinic_calendar.wall_range(request.args.get("start", ""), request.args.get("end", ""),
                                          get_settings().timezone), None
    except ValueError:
        message = _("Give start and end as local date-times (YYYY-MM-DDTHH:MM:SS), end after start, "
                    "at most %(num)d days apart.", num=clinic_calendar.MAX_RANGE_DAYS)
        return None, (jsonify({"error": {"code": "bad_range", "message": message}}), 400)


@bp.route("/api/resources")
@roles_required(*STAFF)
def api_resources():
    """The calendar's columns (only the chosen practitioners)."""
    try:
        chosen = _chosen()
    except ValueError:
        return _bad_practitioners()
    return jsonify(clinic_calendar.resources(_by(), chosen))


@bp.route("/api/events")
@roles_required(*STAFF)
def api_events():
    """Appointments in a window, as calendar events."""
    window, error = _window()
    if error:
        return error
    try:
        chosen = _chosen()
    except ValueError:
        return _bad_practitioners()
    return jsonify(clinic_calendar.events(*window, by=_by(), editable=can_edit(), only=chosen))


@bp.route("/api/background")
@roles_required(*STAFF)
def api_background():
    """Shaded time in a window: outside hours, breaks, time off, closures."""
    window, error = _window()
    if error:
        return error
    try:
        chosen = _chosen()
    except ValueError:
        return _bad_practitioners()
    return jsonify(clinic_calendar.background(*window, by=_by(), only=chosen))


def _problem_body(error: ServiceError) -> dict:
    """A service error as the JSON the calendar's dialog reads."""
    body = {"code": error.code, "message": error.message}
    if isinstance(error, RuleViolation):
        overridable, blocking = partition_problems(error.problems, staff=True, is_practitioner=False)
        body["problems"] = [{"code": p.code, "message": p.message, "session_index": p.session_index,
                             "overridable": p in overridable} for p in error.problems]
        body["overridable"] = not blocking
    return {"error": body}


@bp.route("/api/appointments/<int(max=2147483647):appointment_id>/move", methods=["POST"])
@roles_required(*FRONT_DESK)
def api_move(appointment_id: int):
    """Move an appointment (a drag); rule problems come back for the override dialog."""
    body = request.get_json(silent=True)
    # The drag sends one JSON object of plain values; anything else (an array, nested values)
    # is refused here rather than handed to the form, which expects a flat mapping.
    if not isinstance(body, dict) or not all(
            v is None or isinstance(v, (str, int, float, bool)) for v in body.values()):
        return jsonify({"error": {"code": "bad_request", "message": _("Send a JSON object: %(example)s.", example=
                                  '{"start": "YYYY-MM-DDTHH:MM", "practitioner_id": 1, ...}')}}), 400
    form = MoveForm(formdata=MultiDict({k: v for k, v in body.items() if v is not None}))
    if not form.validate_on_submit():
        fields = "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        return jsonify({"error": {"code": "bad_request", "message": _("Bad move request (%(fields)s).", fields=fields)}}), 400
    try:
        start = clinic_calendar.wall_to_utc(form.start.data, get_settings().timezone)
    except ValueError:
        return jsonify({"error": {"code": "bad_request", "message": _("start must be a local date-time.")}}), 400
    refusal_page(lambda error: (jsonify(_problem_body(error)), error.status), announce=False)
    reception.require_applicable(current_actor(), appointment_id, "move")
    appointment = changes.reschedule(
        current_actor(), appointment_id, start=start, practitioner_id=form.practitioner_id.data,
        override_reason=(form.override_reason.data or "").strip() or None,
        replan_following=bool(form.replan_following.data))
    tz = get_settings().timezone
    return jsonify({"id": appointment.id, "start": clinic_calendar.wall(appointment.start_at, tz),
                    "end": clinic_calendar.wall(appointment.end_at, tz),
                    "practitioner_id": appointment.practitioner_id, "overridden": bool(appointment.override_reason)})


def _appointment_or_404(appointment_id: int) -> Appointment:
    """An appointment by id, or 404."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None:
        abort(404, description=_("There is no such appointment."))
    return appointment


@bp.route("/appointments/<int(max=2147483647):appointment_id>")
@roles_required(*STAFF)
def appointment(appointment_id: int):
    """The appointment panel (a fragment for the calendar with ``partial=1``, else a page)."""
    row = _appointment_or_404(appointment_id)
    return _panel(row, partial=bool(request.args.get("partial")), next_url=request.args.get("next"))


def _panel(row: Appointment, *, partial: bool = False, next_url: str | None = None, status: int = 200):
    """The appointment panel (fragment or page) with only the actions that apply now."""
    back = safe_next(next_url, url_for("reception.calendar",
                                       date=local_date(row.start_at, get_settings().timezone)))
    series = [a for a in row.series.appointments] if row.series is not None else []
    move_form = PanelMoveForm(formdata=None, practitioner=row.practitioner_id,
                              start=to_local(row.start_at, get_settings().timezone).replace(tzinfo=None))
    move_form.practitioner.choices = _practitioner_choices()
    template = "reception/_panel.html" if partial else "reception/appointment.html"
    return render_template(template, appointment=row, partial=partial, series=series, clinic=get_settings(), back=back,
                           editable=can_edit(), actions=reception.applicable_actions(row), move_form=move_form,
                           no_email=NO_EMAIL, label=clinic_calendar.label(row),
                           position=clinic_calendar.series_position(row),
                           prep_state=course.prep_states([row.id]).get(row.id), prep_words=course.PREP_WORDS), status


def _refused_on_panel(appointment_id: int) -> None:
    """A refused action answers with the appointment's page (the message on it) and the
    refusal's 4xx status, so a stale panel or a crafted post is told why and nothing changes."""
    def page(error: ServiceError):
        row = db.session.get(Appointment, appointment_id)
        if row is None:
            return current_app.handle_http_exception(NotFound(description=_("There is no such appointment.")))
        return _panel(row, next_url=request.form.get("next"), status=error.status)
    refusal_page(page)


def _practitioner_choices() -> list[tuple[int, str]]:
    """Active practitioners for the move form."""
    return [(p.id, p.name) for p in db.session.scalars(
        select(Practitioner).where(Practitioner.active.is_(True)).order_by(Practitioner.id))]


@bp.route("/appointments/<int(max=2147483647):appointment_id>/move", methods=["POST"])
@roles_required(*FRONT_DESK)
def move(appointment_id: int):
    """Move from the panel's form; refused moves name every problem."""
    form = PanelMoveForm()
    form.practitioner.choices = _practitioner_choices()
    if not form.validate_on_submit():
        flash(_("Not moved: %(problems)s", problems=" ".join(str(e) for errors in form.errors.values() for e in errors)),
              "error")
        return _after_action(appointment_id)
    tz = get_settings().timezone
    start = local_to_utc(form.start.data.date(), form.start.data.time(), tz)
    _refused_on_panel(appointment_id)
    reception.require_applicable(current_actor(), appointment_id, "move")
    row = changes.reschedule(current_actor(), appointment_id, start=start, practitioner_id=form.practitioner.data,
                             override_reason=(form.override_reason.data or "").strip() or None,
                             replan_following=form.replan_following.data)
    moved = when(row.start_at, "EEE dd MMM y, HH:mm")
    flash(_("Moved to %(when)s; the patient gets the new time by e-mail.", when=moved) if row.patient.email
          else _("Moved to %(when)s; %(no_email)s", when=moved, no_email=NO_EMAIL), "info")
    return _after_action(appointment_id)


def _after_action(appointment_id: int):
    """Back to where the panel was opened from."""
    return redirect(safe_next(request.form.get("next"), url_for("reception.appointment",
                                                                appointment_id=appointment_id)))


@bp.route("/appointments/<int(max=2147483647):appointment_id>/status", methods=["POST"])
@roles_required(*FRONT_DESK)
def set_status(appointment_id: int):
    """Check in, complete or mark a no-show."""
    form = StatusForm()
    if not form.validate_on_submit():
        flash(_("That action is not known; nothing was changed."), "error")
        return _after_action(appointment_id)
    # A refusal goes back where the panel was opened, with the message (booking.web.refusals).
    row = reception.change_status(current_actor(), appointment_id, form.action.data)
    words = {"check_in": _("Checked in: %(appointment)s."), "complete": _("Marked completed: %(appointment)s."),
             "no_show": _("Marked as no-show: %(appointment)s.")}
    flash(words[form.action.data] % {"appointment": clinic_calendar.label(row)}, "info")
    return _after_action(appointment_id)


@bp.route("/appointments/<int(max=2147483647):appointment_id>/cancel", methods=["POST"])
@roles_required(*FRONT_DESK)
def cancel(appointment_id: int):
    """Cancel with a reason (also the override reason inside the patients' cut-off)."""
    form = CancelForm()
    if not form.validate_on_submit():
        flash(_("Say why the appointment is cancelled; nothing was changed."), "error")
        return _after_action(appointment_id)
    reason = form.reason.data.strip()
    row = reception.require_applicable(current_actor(), appointment_id, "cancel")  # refused: back, with the message
    has_email = bool(row.patient.email)
    changes.cancel(current_actor(), appointment_id, reason=reason, patient_message=form.patient_message.data,
                   rest_of_series=form.rest_of_series.data, override_reason=reason)
    flash(_("Cancelled; the patient gets the cancellation by e-mail.") if has_email
          else _("Cancelled; %(no_email)s", no_email=NO_EMAIL), "info")
    return _after_action(appointment_id)


@bp.route("/appointments/<int(max=2147483647):appointment_id>/resend", methods=["POST"])
@roles_required(*FRONT_DESK)
def resend(appointment_id: int):
    """Send the invite again."""
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return _after_action(appointment_id)
    # A refused resend (nothing to send) goes back with the message, like the blueprint's other posts.
    row = reception.resend_invite(current_actor(), appointment_id)
    flash(_("The invite is queued again for %(email)s.", email=row.patient.email), "info")
    return _after_action(appointment_id)


@bp.route("/day-sheet")
@roles_required(*STAFF)
def day_sheet():
    """A printable list of the day, per practitioner."""
    form = DayForm(request.args)
    day = form.date.data if form.validate() and form.date.data else _today()
    columns = clinic_calendar.day_sheet(day)
    return render_template("reception/day_sheet.html", form=form, day=day, columns=columns,
                           clinic=get_settings(), label=clinic_calendar.label,
                           position=clinic_calendar.series_position, prep_words=course.PREP_WORDS,
                           prep=course.prep_states([a.id for c in columns for a in c.appointments]))


@bp.route("/my-schedule")
@roles_required(*STAFF)
def my_schedule():
    """The signed-in practitioner's weekly hours, exceptions and time off (read-only)."""
    practitioner = current_user.practitioner
    if practitioner is None:
        abort(404, description=_("Your account has no practitioner schedule."))
    return render_template("reception/my_schedule.html", practitioner=practitioner, clinic=get_settings())


@bp.route("/patients/<int(max=2147483647):patient_id>/health", methods=["GET", "POST"])
@roles_required("admin", "practitioner")
def patient_health(patient_id: int):
    """The patient's questionnaire and contraindications; a practitioner clears them here.

    Practitioners open only their own patients' (others are a 404); admins any; the front desk none.
    """
    form = ClearanceForm()
    if form.validate_on_submit():
        clearances.review(patient_id, current_actor())  # not one's patient: the 404 page, not the form again
        refusal_page(lambda error: _health_page(patient_id, form))
        clearances.clear(current_actor(), patient_id, form.treatment_id.data, form.note.data or "")
        flash(_("Cleared: the patient can now book this treatment."), "info")
        return redirect(url_for("reception.patient_health", patient_id=patient_id))
    if request.method == "POST":
        for errors in form.errors.values():
            flash(" ".join(str(e) for e in errors), "error")
    return _health_page(patient_id, form)


def _health_page(patient_id: int, form: ClearanceForm):
    """The patient's answers, what they rule out, and the clearance form."""
    patient, answers, found = clearances.review(patient_id, current_actor())
    return render_template("reception/health.html", patient=patient, answers=answers, found=found,
                           questions=INTAKE_QUESTIONS, form=form, clinic=get_settings(),
                           can_clear=current_user.role == "practitioner")
