"""The booking wizard, step 3: sign in or register, the questionnaire, confirm, and done."""

from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from booking.extensions import db
from booking.models import Appointment, Practitioner, Series, Treatment
from booking.scheduling.clock import to_local
from booking.services import booking as booking_service
from booking.services import choices, patients
from booking.services.actor import Actor
from booking.services.booking import SessionRequest
from booking.services.clinic import get_settings
from booking.services.errors import RuleViolation, ServiceError
from booking.mail.rendering import manage_url
from booking.web.book import bp
from booking.web.downloads import google_calendar_link
from booking.web.book.state import (
    PENDING,
    decode,
    encode,
    id_arg,
    patient_actor,
    session_count,
    summary_for,
    timeline_for,
    treatment_or_404,
)
from booking.web.book.forms import CallbackForm, ConfirmForm
from booking.web.refusals import refusal_page


# --- step 3: sign in, questionnaire, confirm ---------------------------------------------
@bp.route("/review", methods=["GET", "POST"])
def review():
    """Sign in or register, the questionnaire, then confirm: all sessions or none."""
    pending = session.get(PENDING)
    if not pending:
        flash(_("Choose a treatment and a time first."), "info")
        return redirect(url_for("public.home"))
    if not current_user.is_authenticated:
        return redirect(url_for("auth.register", next=url_for("book.review")))
    if current_user.role != "patient":
        abort(403, description=_("Staff book for patients from the reception calendar."))
    treatment = treatment_or_404(pending["slug"])
    if patients.intake_needed(current_user.id, treatment):
        return redirect(url_for("portal.intake", next=url_for("book.review")))
    reasons = patients.contraindications_for(current_user.id, treatment)
    if reasons:
        return render_template("book/contraindicated.html", treatment=treatment, reasons=reasons,
                               form=CallbackForm(), clinic=get_settings())
    sessions = decode(pending["sessions"], limit=session_count(treatment))
    form = ConfirmForm()
    needs_ack = bool(treatment.protocol and treatment.protocol.prep_rules) and not pending.get("prep_read")
    if form.validate_on_submit():
        if needs_ack and not form.prep_read.data:
            form.prep_read.errors = [_("Please confirm you have read what to do before the session.")]
            return _review_page(treatment, sessions, form)
        if form.prep_read.data:
            pending["prep_read"] = True
        refusal_page(lambda error: _review_page(treatment, sessions, form, error), announce=False)
        result = _book(treatment, sessions, pending)
        session.pop(PENDING, None)
        return redirect(result)
    return _review_page(treatment, sessions, form)


def _review_page(treatment: Treatment, sessions, form: ConfirmForm, error: ServiceError | None = None):
    """The sessions to confirm; after a refusal, what the rules refused with the nearest free
    times (a time taken meanwhile), or the message of any other refusal."""
    conflict, status = None, 200
    if isinstance(error, RuleViolation):
        conflict = _conflict_view(treatment, sessions, error)
    elif error is not None:
        flash(error.message, "error")
        status = error.status
    tz = get_settings().timezone
    names = {p.id: p.name for p in db.session.scalars(select(Practitioner))}
    return render_template(
        "book/review.html", treatment=treatment, clinic=get_settings(), form=form, conflict=conflict,
        sessions=[(to_local(s, tz), names.get(p, "")) for s, p in sessions],
        timeline=timeline_for(treatment, [s for s, _ in sessions]), summary=summary_for(treatment, sessions),
    ), status


def _book(treatment: Treatment, sessions, pending) -> str:
    """Book through the services; the URL of the confirmation page."""
    actor = Actor.of(current_user)
    if treatment.protocol is not None and treatment.protocol.sessions > 1:
        series = booking_service.book_series(
            actor, treatment_slug=treatment.slug, sessions=[SessionRequest(s, p) for s, p in sessions],
            avoid_dates=[date.fromisoformat(d) for d in pending.get("avoid", [])],
            prep_acknowledged=bool(pending.get("prep_read")))
        return url_for("book.done", series=series.id)
    start, practitioner_id = sessions[0]
    appointment = booking_service.book_appointment(actor, treatment_slug=treatment.slug, start=start,
                                                   practitioner_id=practitioner_id,
                                                   prep_acknowledged=bool(pending.get("prep_read")))
    return url_for("book.done", appointment=appointment.id, then=pending.get("then") or "")


def _conflict_view(treatment: Treatment, sessions, error: RuleViolation) -> dict:
    """What to show when a rule refused the booking: which session, and the nearest free times."""
    actor = Actor.of(current_user)
    tz = get_settings().timezone
    taken = sorted({p.session_index or 0 for p in error.problems if p.code in ("slot_taken", "patient_busy")})
    alternatives = {}
    names = choices.practitioner_names() if taken else {}
    for index in taken:
        if index >= len(sessions):
            continue
        slots = choices.session_alternatives(actor, treatment, sessions, index, patient_id=actor.user_id)
        target = sessions[index][0]
        nearest = sorted(slots, key=lambda s: abs((s.start - target).total_seconds()))[:5]
        options = []
        for slot in sorted(nearest, key=lambda s: s.start):
            changed = list(sessions)
            changed[index] = (slot.start, slot.practitioner_id)
            options.append((to_local(slot.start, tz), names.get(slot.practitioner_id, ""),
                            url_for("book.replace", index=index, slot=encode([(slot.start, slot.practitioner_id)])[0])))
        alternatives[index] = options
    return {"problems": error.problems, "alternatives": alternatives}


@bp.route("/review/replace/<int(max=100):index>")
def replace(index: int):
    """Take another time for one session of the pending booking (later ones are planned again)."""
    pending = session.get(PENDING)
    if not pending:
        return redirect(url_for("public.home"))
    sessions = decode(pending["sessions"])
    if not 0 <= index < len(sessions):
        abort(404)
    sessions[index] = decode([request.args.get("slot", "")])[0]
    treatment = treatment_or_404(pending["slug"])
    if len(sessions) > 1:
        actor = patient_actor()
        proposal = choices.propose(actor, treatment, sessions, patient_id=actor.user_id if actor else None,
                                   avoid=[date.fromisoformat(d) for d in pending.get("avoid", [])], replan_from=index)
        sessions = [(s.start, s.practitioner_id) for s in proposal.sessions]
    pending["sessions"] = encode(sessions)
    session[PENDING] = pending
    flash(_("Updated: check the new times, then confirm."), "info")
    return redirect(url_for("book.review"))


@bp.route("/callback", methods=["POST"])
def callback():
    """A patient who cannot book online asks for a call."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    form = CallbackForm()
    pending = session.get(PENDING) or {}
    treatment = db.session.scalar(select(Treatment).where(Treatment.slug == pending.get("slug", "")))
    if form.validate_on_submit():
        patients.request_callback(current_user.id, treatment.id if treatment else None, form.note.data or "")
        session.pop(PENDING, None)
        flash(_("Thank you: the clinic will call you."), "info")
        return redirect(url_for("public.home"))
    return redirect(url_for("book.review"))


@bp.route("/done")
def done():
    """The confirmation: the sessions, the prep timeline, Add to calendar, subscribe."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    appointments: list[Appointment] = []
    series_id, appointment_id = id_arg(request.args.get("series")), id_arg(request.args.get("appointment"))
    if series_id:
        series_row = db.session.get(Series, series_id)
        if series_row is None or series_row.patient_id != current_user.id:
            abort(404)
        appointments = [a for a in series_row.appointments if a.status != "cancelled"]
    elif appointment_id:
        row = db.session.get(Appointment, appointment_id)
        if row is None or row.patient_id != current_user.id:
            abort(404)
        appointments = [row]
    if not appointments:
        abort(404)
    treatment = appointments[0].treatment
    then = db.session.scalar(select(Treatment).where(Treatment.slug == request.args.get("then", "")))
    settings = get_settings()
    tz = settings.timezone
    manage = manage_url(current_app.config["BASE_URL"])
    return render_template("book/done.html", treatment=treatment, clinic=settings,
                           appointments=[(a, to_local(a.start_at, tz), google_calendar_link(a, settings, manage))
                                         for a in appointments],
                           series_id=appointments[0].series_id,
                           summary=summary_for(treatment, [(a.start_at, a.practitioner_id) for a in appointments]),
                           timeline=timeline_for(treatment, [a.start_at for a in appointments]), then=then)
