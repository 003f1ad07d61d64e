"""Reception's waitlist (issue 15): every request with its status, the offers made and their
outcomes, and a request added on a patient's behalf."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from booking.extensions import db
from booking.models import Appointment, Offer, User
from booking.services import reception, waitlist
from booking.services.clinic import get_settings
from booking.web.access import current_actor, roles_required
from booking.web.portal.forms import ConfirmForm
from booking.web.portal.waitlist_routes import MAX_ID, WaitlistForm, prepare, submit
from booking.web.reception import bp
from booking.web.reception.forms import PatientSearchForm
from booking.web.refusals import refusal_page

# The serving order (waitlist.ORDER) in words for the page; marked here so it is extracted.
_ORDER_WORDS = _l("oldest request first, then the closest fit (nearest the freed time, then earliest)")


def _patient() -> User | None:
    raw = request.values.get("patient", type=int)
    if raw is None or not 0 < raw <= MAX_ID:
        return None
    patient = db.session.get(User, raw)
    return patient if patient is not None and patient.role == "patient" else None


def _appointment(patient: User | None) -> Appointment | None:
    raw = request.values.get("appointment", type=int)
    if patient is None or raw is None or not 0 < raw <= MAX_ID:
        return None
    appointment = db.session.get(Appointment, raw)
    ok = appointment is not None and appointment.patient_id == patient.id and appointment.status == "booked"
    return appointment if ok else None


@bp.route("/waitlist", methods=["GET", "POST"])
@roles_required("receptionist", "admin")
def waitlist_list():
    """The waitlist: requests oldest first (the order they are served in), their offers and
    outcomes; find a patient and add a request for them."""
    patient = _patient()
    appointment = _appointment(patient)
    form = WaitlistForm()
    prepare(form, appointment, request.args.get("treatment"))
    search = PatientSearchForm(request.args)
    found = reception.find_patients(search.q.data or "") if search.validate() and search.q.data else []

    def page(error=None):
        if error is not None:
            form.form_errors.append(error.message)
        requests = waitlist.list_requests(current_actor())
        offers = {}
        for offer in db.session.scalars(select(Offer).where(Offer.request_id.in_([r.id for r in requests]))
                                        .order_by(Offer.id)):
            offers.setdefault(offer.request_id, []).append(offer)
        booked = list(db.session.scalars(select(Appointment).where(
            Appointment.patient_id == patient.id, Appointment.status == "booked").order_by(Appointment.start_at))
        ) if patient else []
        return render_template("reception/waitlist.html", form=form, patient=patient, appointment=appointment,
                               booked=booked, search=search, found=found, requests=requests, offers=offers,
                               history=waitlist.history([r.id for r in requests]), confirm=ConfirmForm(),
                               clinic=get_settings(), order=_(waitlist.ORDER), mode=waitlist.mode()), \
            (error.status if error else 200)

    refusal_page(page, announce=False)
    if request.method == "POST":
        if patient is None:
            flash(_("Choose the patient first."), "error")
            return redirect(url_for("reception.waitlist_list"))
        if form.validate_on_submit():
            submit(form, appointment, patient.id)
            flash(_("%(name)s is on the waitlist.", name=patient.name), "success")
            return redirect(url_for("reception.waitlist_list"))
        return page()[0], 400
    return page()


@bp.route("/waitlist/<int(max=2147483647):request_id>/withdraw", methods=["POST"])
@roles_required("receptionist", "admin")
def waitlist_withdraw(request_id: int):
    """Withdraw a request for the patient (an open offer for it is withdrawn)."""
    if ConfirmForm().validate_on_submit():
        waitlist.withdraw(current_actor(), request_id)
        flash(_("Request withdrawn."), "success")
    return redirect(url_for("reception.waitlist_list"))
