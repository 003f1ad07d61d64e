"""Administration views for schedules: practitioners (hours, breaks, exceptions, time off), rooms
and their closures, and clinic closures.

Every page that a schedule change can strand bookings on lists those bookings, live, with links
to the calendar, so that nobody is silently left outside the hours.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from booking.extensions import db
from booking.models import ClinicClosure, Practitioner, Room, Treatment
from booking.models.base import utcnow
from booking.scheduling.clock import local_to_utc, to_local
from booking.services import holidays, schedule_admin
from booking.services.catalog_admin import save_practitioner, save_room
from booking.services.clinic import get_settings
from booking.web.access import current_actor, roles_required
from booking.web.admin import bp
from booking.web.admin.forms import (
    DAY_NAMES,
    ConfirmForm,
    ExceptionForm,
    HolidaysForm,
    PractitionerForm,
    RoomForm,
    SpanForm,
    weekly_hours_form_class,
    weekly_values,
)
from booking.web.refusals import refusal_page


def utc(naive):
    """A wall-clock time from a form (clinic time) as UTC."""
    return local_to_utc(naive.date(), naive.time(), get_settings().timezone)


def report(stranded: list, saved: str) -> None:
    """Say what was saved and, loudly, how many bookings it left outside the schedule."""
    if stranded:
        # Both English forms keep "appointment(s)"; the plural forms serve the other languages.
        flash(saved + " " + ngettext("%(num)d booked appointment(s) are now outside the schedule; rebook them "
                                     "(listed below).",
                                     "%(num)d booked appointment(s) are now outside the schedule; rebook them "
                                     "(listed below).", len(stranded)), "error")
    else:
        flash(saved + " " + _("No booked appointment is affected."), "info")


def _treatment_choices() -> list[tuple[int, str]]:
    """Every treatment, for the checkbox lists."""
    return [(t.id, t.name) for t in db.session.scalars(select(Treatment).order_by(Treatment.name))]


@bp.route("/practitioners")
@roles_required("admin")
def practitioners():
    """Every practitioner."""
    rows = db.session.scalars(select(Practitioner).order_by(Practitioner.id)).all()
    return render_template("admin/practitioners.html", practitioners=rows, clinic=get_settings())


def _practitioner_or_404(practitioner_id: int) -> Practitioner:
    """A practitioner, or 404."""
    practitioner = db.session.get(Practitioner, practitioner_id)
    if practitioner is None:
        abort(404, description=_("There is no such practitioner."))
    return practitioner


def _hours_form(practitioner: Practitioner, formdata=None):
    """The weekly form, filled from the practitioner's rows (or the submitted data)."""
    form = weekly_hours_form_class()(formdata=formdata)
    if formdata is None:
        for d in range(7):
            getattr(form, f"hours_{d}").data = ", ".join(
                f"{h.start_time:%H:%M}-{h.end_time:%H:%M}" for h in practitioner.hours if h.weekday == d)
            getattr(form, f"breaks_{d}").data = ", ".join(
                f"{b.start_time:%H:%M}-{b.end_time:%H:%M}" for b in practitioner.breaks if b.weekday == d)
    return form


def _practitioner_page(practitioner: Practitioner, status: int = 200, **forms):
    """The practitioner's page with its forms (a submitted one keeps its input and errors)."""
    # Not obj=: the row's ``treatments`` are rows, the form's are ids (obj would win over the kwarg).
    profile = forms.get("profile") or PractitionerForm(formdata=None, color=practitioner.color,
                                                       active=practitioner.active,
                                                       treatments=[t.id for t in practitioner.treatments])
    profile.treatments.choices = _treatment_choices()
    return render_template(
        "admin/practitioner.html", practitioner=practitioner, clinic=get_settings(), days=DAY_NAMES,
        profile=profile, hours=forms.get("hours") or _hours_form(practitioner),
        exception=forms.get("exception") or ExceptionForm(formdata=None),
        time_off=forms.get("time_off") or SpanForm(formdata=None, prefix="off"),
        stranded=schedule_admin.stranded(practitioner_id=practitioner.id), delete_form=ConfirmForm(),
    ), status


@bp.route("/practitioners/<int(max=2147483647):practitioner_id>")
@roles_required("admin")
def practitioner(practitioner_id: int):
    """Hours, breaks, exceptions, time off, and the bookings they strand."""
    return _practitioner_page(_practitioner_or_404(practitioner_id))


@bp.route("/practitioners/<int(max=2147483647):practitioner_id>/profile", methods=["POST"])
@roles_required("admin")
def practitioner_profile(practitioner_id: int):
    """Colour, active, treatments."""
    practitioner = _practitioner_or_404(practitioner_id)
    form = PractitionerForm()
    form.treatments.choices = _treatment_choices()
    if not form.validate_on_submit():
        return _practitioner_page(practitioner, 400, profile=form)
    refusal_page(lambda error: _practitioner_page(practitioner, error.status, profile=form))
    save_practitioner(current_actor(), practitioner_id, color=form.color.data, active=form.active.data,
                      treatment_ids=form.treatments.data)
    report(schedule_admin.stranded(practitioner_id=practitioner_id), _("Saved."))
    return redirect(url_for("admin.practitioner", practitioner_id=practitioner_id))


@bp.route("/practitioners/<int(max=2147483647):practitioner_id>/hours", methods=["POST"])
@roles_required("admin")
def practitioner_hours(practitioner_id: int):
    """Replace the weekly hours and breaks."""
    practitioner = _practitioner_or_404(practitioner_id)
    form = _hours_form(practitioner, request.form)
    if not form.validate_on_submit():
        return _practitioner_page(practitioner, 400, hours=form)
    hours, breaks = weekly_values(form)
    refusal_page(lambda error: _practitioner_page(practitioner, error.status, hours=form))
    stranded = schedule_admin.set_weekly_hours(current_actor(), practitioner_id, hours=hours, breaks=breaks)
    report(stranded, _("Weekly hours saved."))
    return redirect(url_for("admin.practitioner", practitioner_id=practitioner_id))


@bp.route("/practitioners/<int(max=2147483647):practitioner_id>/exceptions", methods=["POST"])
@roles_required("admin")
def practitioner_exception(practitioner_id: int):
    """Other hours, or a day off, on one date."""
    practitioner = _practitioner_or_404(practitioner_id)
    form = ExceptionForm()
    if not form.validate_on_submit():
        return _practitioner_page(practitioner, 400, exception=form)
    refusal_page(lambda error: _practitioner_page(practitioner, error.status, exception=form))
    stranded = schedule_admin.add_exception(current_actor(), practitioner_id, day=form.day.data,
                                            start=form.start.data, end=form.end.data, note=form.note.data or "")
    report(stranded, _("Special day saved."))
    return redirect(url_for("admin.practitioner", practitioner_id=practitioner_id))


@bp.route("/practitioners/<int(max=2147483647):practitioner_id>/time-off", methods=["POST"])
@roles_required("admin")
def practitioner_time_off(practitioner_id: int):
    """Time away."""
    practitioner = _practitioner_or_404(practitioner_id)
    form = SpanForm(prefix="off")
    if not form.validate_on_submit():
        return _practitioner_page(practitioner, 400, time_off=form)
    refusal_page(lambda error: _practitioner_page(practitioner, error.status, time_off=form))
    stranded = schedule_admin.add_time_off(current_actor(), practitioner_id, start=utc(form.start.data),
                                           end=utc(form.end.data), reason=form.reason.data or "")
    report(stranded, _("Time off saved."))
    return redirect(url_for("admin.practitioner", practitioner_id=practitioner_id))


@bp.route("/schedule/<kind>/<int(max=2147483647):entry_id>/delete", methods=["POST"])
@roles_required("admin")
def delete_entry(kind: str, entry_id: int):
    """Remove an exception, time off or closure."""
    back = {"exception": "admin.practitioner", "time_off": "admin.practitioner", "room_closure": "admin.room"}
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("admin.index"))
    owner = schedule_admin.remove_entry(current_actor(), kind, entry_id)
    flash(_("Removed."), "info")
    if kind in ("exception", "time_off"):
        return redirect(url_for(back[kind], practitioner_id=owner))
    if kind == "room_closure":
        return redirect(url_for(back[kind], room_id=owner))
    return redirect(url_for("admin.closures"))


@bp.route("/rooms", methods=["GET", "POST"])
@roles_required("admin")
def rooms():
    """Every room, and a form to add one."""
    form = RoomForm()
    form.treatments.choices = _treatment_choices()
    if request.method == "GET":
        return _rooms_page(form)
    if not form.validate_on_submit():
        return _rooms_page(form, 400)
    refusal_page(lambda error: _rooms_page(form, error.status))
    room = save_room(current_actor(), None, name=form.name.data, active=form.active.data,
                     treatment_ids=form.treatments.data)
    flash(_("Room %(name)s added.", name=room.name), "info")
    return redirect(url_for("admin.room", room_id=room.id))


def _rooms_page(form: RoomForm, status: int = 200):
    """The list of rooms with the form to add one (a submitted form keeps its input and errors)."""
    rows = db.session.scalars(select(Room).order_by(Room.name)).all()
    return render_template("admin/rooms.html", rooms=rows, form=form, clinic=get_settings()), status


def _room_or_404(room_id: int) -> Room:
    """A room, or 404."""
    row = db.session.get(Room, room_id)
    if row is None:
        abort(404, description=_("There is no such room."))
    return row


def _room_page(row: Room, status: int = 200, form: RoomForm | None = None, closure: SpanForm | None = None):
    """A room's page (a submitted form keeps its input and errors)."""
    form = form or RoomForm(formdata=None, name=row.name, active=row.active, treatments=[t.id for t in row.treatments])
    form.treatments.choices = _treatment_choices()
    return render_template("admin/room.html", room=row, form=form, clinic=get_settings(),
                           closure=closure or SpanForm(prefix="closure", formdata=None),
                           stranded=schedule_admin.stranded(room_id=row.id), delete_form=ConfirmForm()), status


@bp.route("/rooms/<int(max=2147483647):room_id>", methods=["GET", "POST"])
@roles_required("admin")
def room(room_id: int):
    """A room: name, what it serves, closures, and the bookings a closure strands."""
    row = _room_or_404(room_id)
    if request.method == "GET":
        return _room_page(row)
    form = RoomForm()
    form.treatments.choices = _treatment_choices()
    if not form.validate_on_submit():
        return _room_page(row, 400, form=form)
    refusal_page(lambda error: _room_page(row, error.status, form=form))
    save_room(current_actor(), room_id, name=form.name.data, active=form.active.data,
              treatment_ids=form.treatments.data)
    report(schedule_admin.stranded(room_id=room_id), _("Room saved."))
    return redirect(url_for("admin.room", room_id=room_id))


@bp.route("/rooms/<int(max=2147483647):room_id>/closures", methods=["POST"])
@roles_required("admin")
def room_closure(room_id: int):
    """Close a room for a while."""
    row = _room_or_404(room_id)
    form = SpanForm(prefix="closure")
    if not form.validate_on_submit():
        return _room_page(row, 400, closure=form)
    refusal_page(lambda error: _room_page(row, error.status, closure=form))
    stranded = schedule_admin.add_room_closure(current_actor(), room_id, start=utc(form.start.data),
                                               end=utc(form.end.data), reason=form.reason.data or "")
    report(stranded, _("Closure saved."))
    return redirect(url_for("admin.room", room_id=room_id))


@bp.route("/closures", methods=["GET", "POST"])
@roles_required("admin")
def closures():
    """Clinic closures (holidays), and the bookings they strand."""
    form = SpanForm(prefix="closure")
    if request.method == "GET":
        return _closures_page(form)
    if not form.validate_on_submit():
        return _closures_page(form, 400)
    refusal_page(lambda error: _closures_page(form, error.status))
    stranded = schedule_admin.add_clinic_closure(current_actor(), start=utc(form.start.data),
                                                 end=utc(form.end.data), reason=form.reason.data or "")
    report(stranded, _("Closure saved."))
    return redirect(url_for("admin.closures"))


def _closures_page(form: SpanForm, status: int = 200):
    """The clinic's closures with the form to add one, the public holidays not closed yet, and
    the bookings they strand."""
    rows = db.session.scalars(select(ClinicClosure).order_by(ClinicClosure.start_at.desc())).all()
    clinic = get_settings()
    return render_template("admin/closures.html", closures=rows, form=form, clinic=clinic,
                           holiday_years=_holiday_years(), country=holidays.country_name(clinic.country),
                           stranded=schedule_admin.stranded(), delete_form=ConfirmForm()), status


# --- public holidays as closures --------------------------------------------------------------
def _year_choices() -> list[int]:
    """The years whose public holidays may be added: this one and the next (clinic time)."""
    this_year = to_local(utcnow(), get_settings().timezone).year
    return [this_year, this_year + 1]


def _holiday_years() -> list[tuple[int, list, HolidaysForm]]:
    """Per year offered: the holidays it would add and the form that adds them."""
    return [(year, holidays.holidays_to_add(year), HolidaysForm(formdata=None, year=year))
            for year in _year_choices()]


@bp.route("/closures/holidays", methods=["POST"])
@roles_required("admin")
def add_holidays():
    """Close the clinic on the public holidays of this or next year that are not closed yet."""
    form = HolidaysForm()
    form.year.choices = [(year, str(year)) for year in _year_choices()]
    if not form.validate_on_submit():
        flash(_("Choose this year or the next."), "error")
        return redirect(url_for("admin.closures"))
    written, stranded = holidays.add_public_holidays(current_actor(), form.year.data)
    # Both English forms keep "holiday(s)"; the plural forms serve the other languages.
    report(stranded, ngettext("%(num)d public holiday(s) of %(year)s added as closures.",
                              "%(num)d public holiday(s) of %(year)s added as closures.", len(written),
                              year=form.year.data))
    return redirect(url_for("admin.closures"))
