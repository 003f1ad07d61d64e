"""Course pages: the prep checklist (signed link and portal), the patient's course and their
maintenance proposal; reception's call list, recall list and a patient's course."""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from booking.extensions import db
from booking.models import User
from booking.services import course, recall as recalls
from booking.services.choices import practitioner_names
from booking.services.clinic import get_settings
from booking.services.errors import InvalidRequest
from booking.web.access import current_actor, roles_required
from booking.web.course import bp
from booking.web.course.forms import CourseForm, DeclineForm, MaintenanceForm, checklist_form_class
from booking.web.refusals import refusal_page
from booking.web.roles import FRONT_DESK


def _checklist_page(sheet: course.Checklist, *, action: str, status: int = 200, form=None):
    """The checklist of one session: the questions, or what follows from the answers."""
    keys = [(s.key, s.instruction) for s in sheet.steps]
    form = form or checklist_form_class(keys)(formdata=None, data={f"step_{k}": v for k, v in sheet.answers.items()})
    return render_template("course/prep.html", sheet=sheet, form=form, action=action,
                           fields=[getattr(form, f"step_{k}") for k, _ in keys], clinic=get_settings(),
                           names=practitioner_names() if sheet.alternatives else {}), status


def _answers(form, sheet: course.Checklist) -> dict[str, str]:
    return {s.key: getattr(form, f"step_{s.key}").data for s in sheet.steps}


@bp.route("/prep/<string(maxlength=100):secret>", methods=["GET", "POST"])
def prep_link(secret: str):
    """The checklist a prep message links to: no sign-in, this one session, once, until it starts."""
    refusal_page(lambda error: (render_template("course/link_refused.html", message=error.message,
                                                clinic=get_settings()), error.status), announce=False)
    sheet = course.checklist_by_link(secret)
    form = checklist_form_class([(s.key, s.instruction) for s in sheet.steps])()
    if form.validate_on_submit():
        sheet = course.answer_by_link(secret, _answers(form, sheet), callback=request.form.get("callback") == "yes")
        return render_template("course/prep_answered.html", sheet=sheet, clinic=get_settings(),
                               names=practitioner_names() if sheet.alternatives else {})
    return _checklist_page(sheet, action=url_for("course.prep_link", secret=secret),
                           status=400 if request.method == "POST" else 200, form=form)


@bp.route("/me/appointments/<int(max=2147483647):appointment_id>/prep", methods=["GET", "POST"])
@roles_required("patient")
def prep(appointment_id: int):
    """The same checklist in the portal; answers can be changed until the session."""
    actor = current_actor()
    sheet = course.checklist(actor, appointment_id)  # another's is a 404
    form = checklist_form_class([(s.key, s.instruction) for s in sheet.steps])()
    if form.validate_on_submit():
        refusal_page(lambda error: _checklist_page(sheet, action=request.path, status=error.status, form=form))
        sheet = course.answer_prep(actor, appointment_id, _answers(form, sheet),
                                   callback=request.form.get("callback") == "yes")
        if sheet.status == "prepared":
            flash(gettext("Thank you: you are all set for your session."), "info")
            return redirect(url_for("course.my_course"))
        return render_template("course/prep_answered.html", sheet=sheet, clinic=get_settings(),
                               names=practitioner_names() if sheet.alternatives else {})
    return _checklist_page(sheet, action=request.path, status=400 if request.method == "POST" else 200, form=form)


@bp.route("/me/course")
@roles_required("patient")
def my_course():
    """My course of treatment: consultation, sessions and their states, what comes next."""
    view = course.course_view(current_user.id)
    return render_template("course/course.html", view=view, patient=current_user, clinic=get_settings(),
                           staff=False, course_form=None)


@bp.route("/me/maintenance/<int(max=2147483647):recall_id>", methods=["GET", "POST"])
@roles_required("patient")
def maintenance(recall_id: int):
    """The proposed maintenance time (with a new consultation first when needed): one tap books it."""
    return _maintenance(recall_id, back=url_for("course.my_course"))


def _maintenance(recall_id: int, *, back: str):
    actor = current_actor()
    form, decline = MaintenanceForm(), DeclineForm(prefix="decline")
    if request.method == "POST" and request.form.get("decline-submit") and decline.validate_on_submit():
        recalls.decline(actor, recall_id, reason=decline.reason.data or "")
        flash(gettext("Noted: we will not remind you about it."), "info")
        return redirect(back)
    if form.validate_on_submit():
        refusal_page(lambda error: _maintenance_page(recall_id, back, status=error.status, message=error.message),
                     announce=False)
        try:
            session_start = datetime.fromisoformat(form.session_start.data)
            consultation_start = (datetime.fromisoformat(form.consultation_start.data)
                                  if form.consultation_start.data else None)
            session_practitioner = int(form.session_practitioner.data)
            consultation_practitioner = int(form.consultation_practitioner.data or 0) or None
        except ValueError as error:
            raise InvalidRequest(gettext("The proposed times were not understood; open the page again.")) from error
        if session_start.tzinfo is None or (consultation_start is not None and consultation_start.tzinfo is None):
            raise InvalidRequest(gettext("The proposed times were not understood; open the page again."))
        recalls.book_maintenance(actor, recall_id, session_start=session_start,
                                 session_practitioner_id=session_practitioner,
                                 consultation_start=consultation_start,
                                 consultation_practitioner_id=consultation_practitioner)
        flash(gettext("Booked. Your invite is on its way.") if actor.is_patient else gettext("Booked for the patient."), "info")
        return redirect(back)
    return _maintenance_page(recall_id, back)


def _maintenance_page(recall_id: int, back: str, *, status: int = 200, message: str | None = None):
    actor = current_actor()
    proposal = recalls.propose_maintenance(actor, recall_id)
    form = MaintenanceForm(formdata=None)
    if proposal.session is not None:
        form.session_start.data = proposal.session.start.isoformat()
        form.session_practitioner.data = str(proposal.session.practitioner_id)
    if proposal.consultation is not None:
        form.consultation_start.data = proposal.consultation.start.isoformat()
        form.consultation_practitioner.data = str(proposal.consultation.practitioner_id)
    return render_template("course/maintenance.html", proposal=proposal, form=form,
                           decline=DeclineForm(formdata=None, prefix="decline"), names=practitioner_names(),
                           back=back, message=message, clinic=get_settings(), staff=not actor.is_patient), status


# ---- reception ----------------------------------------------------------------------------------

@bp.route("/reception/calls")
@roles_required(*FRONT_DESK)
def calls():
    """The "to call" list: sessions whose prep is unanswered, not done, or asked a call back."""
    return render_template("course/calls.html", calls=course.calls_due(), reasons=course.CALL_REASONS,
                           clinic=get_settings())


@bp.route("/reception/recalls")
@roles_required(*FRONT_DESK)
def recall_list():
    """Patients due for maintenance: upcoming, due, overdue, booked, declined."""
    standing = request.args.get("standing") or None
    if standing not in (None, "upcoming", "due", "overdue", "booked", "declined"):
        standing = None
    return render_template("course/recalls.html", rows=recalls.recall_list(standing=standing), standing=standing,
                           clinic=get_settings())


@bp.route("/reception/recalls/<int(max=2147483647):recall_id>", methods=["GET", "POST"])
@roles_required(*FRONT_DESK)
def recall_book(recall_id: int):
    """Book a recall's maintenance on the patient's behalf (or record that they declined)."""
    return _maintenance(recall_id, back=url_for("course.recall_list"))


@bp.route("/reception/patients/<int(max=2147483647):patient_id>/course", methods=["GET", "POST"])
@roles_required(*FRONT_DESK)
def patient_course(patient_id: int):
    """A patient's course for reception, where a series can be recorded as a prepaid course."""
    patient = db.session.get(User, patient_id)
    if patient is None or patient.role != "patient":
        abort(404)
    form = CourseForm()
    if form.validate_on_submit():
        series_id = request.form.get("series_id", type=int)
        if series_id is None:
            raise InvalidRequest(gettext("Choose a series."))
        course.set_course(current_actor(), series_id, sessions=form.sessions.data, expires_on=form.expires_on.data)
        flash(gettext("Saved."), "info")
        return redirect(url_for("course.patient_course", patient_id=patient_id))
    view = course.course_view(patient_id)
    return render_template("course/course.html", view=view, patient=patient, clinic=get_settings(), staff=True,
                           course_form=form), 400 if request.method == "POST" else 200

