"""The waitlist in the portal (issue 15): ask for an earlier or different time for a booked
session, or to be told when a time for a treatment comes free; see and withdraw my requests."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import DateField, HiddenField, SelectField, SelectMultipleField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from booking.extensions import db
from booking.models import Appointment, Practitioner, Treatment
from booking.services import waitlist
from booking.services.clinic import get_settings
from booking.web.access import current_actor, roles_required
from booking.web.forms_base import SafeForm
from booking.web.portal import bp
from booking.web.portal.forms import ConfirmForm
from booking.web.refusals import refusal_page

DAY_NAMES = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"), _l("Sunday"))
MAX_ID = 2_147_483_647


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WaitlistForm(SafeForm):
    """What the patient would take: the rule book decides what is allowed, these only narrow it."""

    treatment = SelectField(_l("Treatment"), choices=[])
    appointment = HiddenField()
    practitioners = MultiCheckboxField(_l("With (none ticked: anyone)"), coerce=int, choices=[])
    weekdays = MultiCheckboxField(_l("On (none ticked: any day)"), coerce=int,
                                  choices=[SelectChoice(i, name) for i, name in enumerate(DAY_NAMES)])
    from_time = TimeField(_l("Not before (time of day)"), validators=[Optional()])
    to_time = TimeField(_l("Finished by (time of day)"), validators=[Optional()])
    latest = DateField(_l("Latest acceptable date"), validators=[Optional()])


def prepare(form: WaitlistForm, appointment: Appointment | None, slug: str | None) -> Treatment | None:
    """Fill the form's choices; the treatment it is about (the session's, or the chosen one)."""
    treatments = list(db.session.scalars(select(Treatment).where(Treatment.active.is_(True)).order_by(Treatment.name)))
    form.treatment.choices = [SelectChoice(t.slug, t.name) for t in treatments]
    chosen = appointment.treatment if appointment else next(
        (t for t in treatments if t.slug == (form.treatment.data or slug)), treatments[0] if treatments else None)
    if chosen is not None and not form.treatment.data:
        form.treatment.data = chosen.slug
    qualified = [p for p in db.session.scalars(select(Practitioner).where(Practitioner.active.is_(True))
                                               .order_by(Practitioner.id)) if chosen in p.treatments]
    everyone = [p for p in db.session.scalars(select(Practitioner).where(Practitioner.active.is_(True))
                                              .order_by(Practitioner.id)) if p.treatments]
    form.practitioners.choices = [SelectChoice(p.id, p.name) for p in (qualified if appointment else everyone)]
    form.weekdays.choices = [SelectChoice(i, name) for i, name in enumerate(day_names())]
    return chosen


def day_names() -> list[str]:
    """Monday to Sunday in the page's language, by Babel ("Monday", "Lunedì")."""
    from babel.dates import get_day_names

    names = get_day_names("wide", context="stand-alone", locale=get_locale())
    return [names[i][:1].upper() + names[i][1:] for i in range(7)]


# The order requests are served in (booking.services.waitlist.ORDER), in the page's language.
ORDER_WORDS = {waitlist.ORDER: _l("oldest request first, then the closest fit (nearest the freed time, then earliest)")}


def submit(form: WaitlistForm, appointment: Appointment | None, patient_id: int | None):
    """Make the request from the form (the service validates it)."""
    return waitlist.create_request(
        current_actor(), treatment_slug=None if appointment else form.treatment.data,
        appointment_id=appointment.id if appointment else None, patient_id=patient_id,
        practitioner_ids=form.practitioners.data or [], weekdays=form.weekdays.data or [],
        from_time=form.from_time.data, to_time=form.to_time.data, latest=form.latest.data)


def _appointment_arg() -> Appointment | None:
    raw = request.values.get("appointment", type=int)
    if raw is None or not 0 < raw <= MAX_ID:
        return None
    appointment = db.session.get(Appointment, raw)
    if appointment is None or appointment.patient_id != current_user.id or appointment.status != "booked":
        return None
    return appointment


@bp.route("/me/waitlist", methods=["GET", "POST"])
@bp.route("/me/waitlist/new", methods=["GET", "POST"])
@roles_required("patient")
def waitlist_new():
    """Ask for an earlier time for a booked session (``?appointment=``) or to be told when a
    time for a treatment comes free (``?treatment=``); my requests, with withdraw."""
    appointment = _appointment_arg()
    form = WaitlistForm()
    prepare(form, appointment, request.args.get("treatment"))

    def page(error=None):
        if error is not None:
            form.form_errors.append(error.message)
        return render_template("portal/waitlist.html", form=form, appointment=appointment,
                               requests=waitlist.list_requests(current_actor()), clinic=get_settings(),
                               confirm=ConfirmForm(), order=ORDER_WORDS.get(waitlist.ORDER, waitlist.ORDER)), (error.status if error else 200)

    refusal_page(page, announce=False)
    if form.validate_on_submit():
        submit(form, appointment, None)
        flash(gettext("You are on the waitlist: we will write when a time that suits you comes free."), "success")
        return redirect(url_for("portal.waitlist_new"))
    if request.method == "POST":
        return page()[0], 400
    return page()


@bp.route("/me/waitlist/<int(max=2147483647):request_id>/withdraw", methods=["POST"])
@roles_required("patient")
def waitlist_withdraw(request_id: int):
    """Stop waiting (an open offer for it is withdrawn)."""
    if ConfirmForm().validate_on_submit():
        waitlist.withdraw(current_actor(), request_id)
        flash(gettext("Request withdrawn."), "success")
    return redirect(url_for("portal.waitlist_new"))
