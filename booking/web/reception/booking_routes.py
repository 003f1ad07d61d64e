"""Booking on behalf of a patient: find or add the patient, then one appointment or a whole
series (the planner's proposal, editable), through the same services as everyone else."""

from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from wtforms.validators import Optional

from booking.extensions import db
from booking.models import Practitioner, Treatment, User
from booking.i18n import when
from booking.models.base import utcnow
from booking.scheduling.checks import partition_problems
from booking.scheduling.clock import local_date, local_to_utc, to_local
from booking.services import booking as booking_service
from booking.services import choices, clinic_calendar, reception
from booking.services.booking import SessionRequest
from booking.services.clinic import get_settings
from booking.services.errors import RuleViolation, ServiceError
from booking.services.loading import load_treatment
from booking.web.access import current_actor, roles_required
from booking.web.reception import bp
from booking.web.refusals import refusal_page
from booking.web.reception.forms import MAX_ID, BookingForm, NewPatientForm, PatientSearchForm, plausible_year
from booking.web.reception.routes import NO_EMAIL

FRONT_DESK = ("admin", "receptionist")


def _aware(naive: datetime) -> datetime:
    """A wall-clock time from a form, in the clinic's zone, as UTC."""
    return local_to_utc(naive.date(), naive.time(), get_settings().timezone)


def _local(moment: datetime) -> datetime:
    """A UTC moment as a naive wall-clock time for a form field."""
    return to_local(moment, get_settings().timezone).replace(tzinfo=None)


def _choices(form: BookingForm) -> None:
    """Fill the treatment and practitioner lists (and each session's practitioner list)."""
    treatments = db.session.scalars(select(Treatment).where(Treatment.active.is_(True)).order_by(Treatment.name))
    form.treatment.choices = [(t.slug, t.name) for t in treatments]
    people = [(p.id, p.name) for p in db.session.scalars(
        select(Practitioner).where(Practitioner.active.is_(True)).order_by(Practitioner.id))]
    form.practitioner.choices = people
    for entry in form.sessions:
        entry.form.practitioner.choices = people


def _prefill(form: BookingForm) -> None:
    """Start and practitioner from the calendar click (``start`` is a wall-clock time)."""
    try:
        start = clinic_calendar.wall_to_utc(request.args.get("start", ""), get_settings().timezone)
        form.start.data = _local(start)
    except ValueError:
        pass
    form.practitioner.data = request.args.get("practitioner", type=int)
    patient = request.args.get("patient", type=int)
    form.patient_id.data = patient if patient is not None and 0 < patient <= MAX_ID else None


def _patient(form: BookingForm) -> User | None:
    """The chosen patient, if the id names one."""
    raw = str(form.patient_id.data or "")
    if not raw.isdigit() or int(raw) > MAX_ID:
        return None
    patient = db.session.get(User, int(raw))
    return patient if patient is not None and patient.role == "patient" else None


def _picked() -> str:
    """"Mon 14 Dec 2026, 10:00 with Anna Rossi" for the time clicked on the calendar, or ""."""
    try:
        start = clinic_calendar.wall_to_utc(request.args.get("start", ""), get_settings().timezone)
    except ValueError:
        return ""
    wanted = request.args.get("practitioner", type=int) or 0
    practitioner = db.session.get(Practitioner, wanted) if 0 < wanted <= MAX_ID else None
    moment = when(start, "EEE dd MMM y, HH:mm")
    return _("%(when)s with %(name)s", when=moment, name=practitioner.name) if practitioner else moment


def _render(form: BookingForm, *, patient: User | None = None, problems=(), overridable: bool = False,
            new_form: NewPatientForm | None = None, status: int = 200):
    """The booking page in its current step."""
    search = PatientSearchForm(request.args)
    found = reception.find_patients(search.q.data or "") if search.validate() and search.q.data else []
    return render_template(
        "reception/book.html", form=form, patient=patient, search=search, found=found,
        new_form=new_form or NewPatientForm(start=request.args.get("start", ""),
                                            practitioner=request.args.get("practitioner", "")),
        problems=problems, overridable=overridable, clinic=get_settings(), picked=_picked(),
        start_arg=request.args.get("start", ""), practitioner_arg=request.args.get("practitioner", ""),
    ), status


def _plan(form: BookingForm, patient: User) -> list:
    """Fill the sessions with the planner's proposal from the first session; returns its problems."""
    treatment = load_treatment(form.treatment.data)
    proposal = choices.propose(current_actor(), treatment, [(_aware(form.start.data), form.practitioner.data)],
                               patient_id=patient.id, replan_from=0)
    while form.sessions.entries:
        form.sessions.pop_entry()
    for session in proposal.sessions:
        form.sessions.append_entry({"start": _local(session.start),
                                    "practitioner": session.practitioner_id or form.practitioner.data})
    _choices(form)
    missing = [s.index for s in proposal.sessions if not s.placed]
    if missing:
        flash(_("The planner could not place session(s) %(sessions)s; pick their times by hand.",
                sessions=", ".join(str(i + 1) for i in missing)), "error")
    return proposal.problems


@bp.route("/book", methods=["GET", "POST"])
@roles_required(*FRONT_DESK)
def book():
    """Find or add the patient, then book one appointment or a whole series."""
    form = BookingForm()
    _choices(form)
    if request.method == "GET":
        _prefill(form)
        return _render(form, patient=_patient(form))
    patient = _patient(form)
    if patient is None:
        flash(_("Choose the patient first."), "error")
        return _render(form, status=400)
    refusal_page(lambda error: _refused(form, patient, error), announce=False)
    if form.next_free.data:
        return _next_free(form, patient)
    if not form.validate_on_submit():
        return _render(form, patient=patient, status=400)
    override = (form.override_reason.data or "").strip() or None
    if form.mode.data == "series" and (form.plan.data or not form.sessions.entries):
        problems = _plan(form, patient)
        return _render(form, patient=patient, problems=problems,
                       overridable=bool(problems) and not partition_problems(
                           problems, staff=True, is_practitioner=False)[1])
    if form.mode.data == "series":
        sessions = [SessionRequest(_aware(e.form.start.data), e.form.practitioner.data) for e in form.sessions]
        series = booking_service.book_series(current_actor(), treatment_slug=form.treatment.data,
                                             sessions=sessions, patient_id=patient.id, override_reason=override)
        first = min(a.start_at for a in series.appointments)
        message = ngettext("Booked %(num)d session for %(name)s.", "Booked %(num)d sessions for %(name)s.",
                           len(series.appointments), name=patient.name)
    else:
        appointment = booking_service.book_appointment(
            current_actor(), treatment_slug=form.treatment.data, start=_aware(form.start.data),
            practitioner_id=form.practitioner.data, patient_id=patient.id, override_reason=override)
        first = appointment.start_at
        message = _("Booked %(treatment)s for %(name)s.", treatment=appointment.treatment.name, name=patient.name)
    flash(message + " " + (_("The invite is on its way.") if patient.email else str(NO_EMAIL)), "info")
    return redirect(url_for("reception.calendar", date=local_date(first, get_settings().timezone).isoformat()))


def _next_free(form: BookingForm, patient: User):
    """Put the next start the rules allow into the form: for the chosen treatment, with the
    chosen practitioner (or anyone), from the start given (or now) on; a series is planned from it."""
    form.start.validators = [Optional(), plausible_year]  # no start: from now
    if not form.validate_on_submit():
        return _render(form, patient=patient, status=400)
    earliest = _aware(form.start.data) if form.start.data else utcnow()
    found = reception.next_free_start(load_treatment(form.treatment.data), earliest=earliest, patient_id=patient.id,
                                    practitioner_id=None if form.any_practitioner.data else form.practitioner.data)
    if found.note:
        flash(found.note, "info")
    if found.slot is None:
        flash(_("No free time found up to the booking horizon; try another practitioner or treatment."), "error")
        return _render(form, patient=patient)
    practitioner = db.session.get(Practitioner, found.slot.practitioner_id)
    form.start.data, form.start.raw_data = _local(found.slot.start), None
    form.practitioner.data = found.slot.practitioner_id
    flash(_("Next free time: %(when)s with %(name)s. It is in the form; book it or change it.",
            when=when(found.slot.start, "EEE dd MMM y, HH:mm"), name=practitioner.name), "info")
    while form.sessions.entries:
        form.sessions.pop_entry()
    if form.mode.data == "series":
        problems = _plan(form, patient)
        return _render(form, patient=patient, problems=problems,
                       overridable=bool(problems) and not partition_problems(
                           problems, staff=True, is_practitioner=False)[1])
    return _render(form, patient=patient)


def _refused(form: BookingForm, patient: User, error: ServiceError):
    """The booking page again with the form as sent: rule problems listed (with the override
    field when staff may override them all), any other refusal as a message."""
    _choices(form)
    if isinstance(error, RuleViolation):
        blocking = partition_problems(error.problems, staff=True, is_practitioner=False)[1]
        return _render(form, patient=patient, problems=error.problems, overridable=not blocking, status=422)
    flash(error.message, "error")
    return _render(form, patient=patient, status=error.status)


@bp.route("/patients", methods=["POST"])
@roles_required(*FRONT_DESK)
def new_patient():
    """Add a patient who phoned in, then go on to book for them."""
    new_form = NewPatientForm()
    if not new_form.validate_on_submit():
        return _new_patient_refused(new_form)
    refusal_page(lambda error: _new_patient_refused(new_form, error), announce=False)
    patient = reception.create_patient(current_actor(), name=new_form.name.data, email=new_form.email.data,
                                       phone=new_form.phone.data)
    flash(_("Added %(name)s.", name=patient.name) + ("" if patient.email else " " + str(NO_EMAIL)), "info")
    return redirect(url_for("reception.book", patient=patient.id, start=new_form.start.data or None,
                            practitioner=new_form.practitioner.data or None))


def _new_patient_refused(new_form: NewPatientForm, error: ServiceError | None = None):
    """The booking page with the new-patient form as sent and its errors (a refusal names the e-mail)."""
    if error is not None:
        new_form.email.errors.append(error.message)
    form = BookingForm(formdata=None)
    _choices(form)
    return _render(form, new_form=new_form, status=400)
