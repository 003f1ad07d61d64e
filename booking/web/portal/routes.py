"""Portal views: my appointments (with .ics downloads) and my calendar subscription links."""

from __future__ import annotations

import json
from datetime import datetime

from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from booking.models import INTAKE_QUESTIONS
from booking.scheduling.clock import to_local
from booking.services import changes, choices, feed_links, patient_bookings, patients
from booking.services.clinic import get_settings
from booking.services.loading import load_appointment_for
from booking.web.access import current_actor, roles_required, safe_next
from booking.web.downloads import invite_response
from booking.web.book.forms import intake_form_class
from booking.web.portal import bp
from booking.web.portal.forms import ConfirmForm, NewFeedForm
from booking.web.refusals import refusal_page


@bp.route("/me")
@roles_required("patient")
def me():
    """Upcoming and past appointments, each series with its progress, and what can be done."""
    mine = patient_bookings.overview(current_user.id)
    return render_template("portal/me.html", upcoming=mine.upcoming, past=mine.past, progress=mine.progress,
                           changeable=mine.changeable, clinic=get_settings(), form=ConfirmForm())


@bp.route("/me/appointments/<int(max=2147483647):appointment_id>/reschedule", methods=["GET", "POST"])
@roles_required("patient")
def reschedule(appointment_id: int):
    """Offered times that keep the series valid; refused inside the cut-off."""
    actor = current_actor()
    appointment = load_appointment_for(actor, appointment_id)  # another's is a 404
    form = ConfirmForm()
    if form.validate_on_submit():
        value = request.form.get("slot", "")
        iso, _, pid = value.partition("|")
        try:
            start = datetime.fromisoformat(iso)
            practitioner_id = int(pid)
        except ValueError:
            flash("Choose one of the offered times.", "error")
            return redirect(url_for("portal.reschedule", appointment_id=appointment_id))
        changes.reschedule(actor, appointment_id, start=start, practitioner_id=practitioner_id)
        flash("Moved. A new invite is on its way.", "info")
        return redirect(url_for("portal.me"))
    settings = get_settings()
    inside_cutoff = not patient_bookings.changeable_online(appointment)
    options = [] if inside_cutoff or appointment.status != "booked" else choices.reschedule_options(actor, appointment_id)
    tz = settings.timezone
    names = choices.practitioner_names() if options else {}
    by_day: dict = {}
    for slot in options:
        local = to_local(slot.start, tz)
        by_day.setdefault(local.date(), []).append((local, names.get(slot.practitioner_id, ""),
                                                    f"{slot.start.isoformat()}|{slot.practitioner_id}"))
    return render_template("portal/reschedule.html", appointment=appointment, by_day=by_day,
                           inside_cutoff=inside_cutoff, clinic=settings, form=form)


@bp.route("/me/appointments/<int(max=2147483647):appointment_id>/cancel", methods=["GET", "POST"])
@roles_required("patient")
def cancel(appointment_id: int):
    """Cancel one session, or it and the rest of its series; refused inside the cut-off."""
    actor = current_actor()
    appointment = load_appointment_for(actor, appointment_id)  # another's is a 404
    form = ConfirmForm()
    if form.validate_on_submit():
        refusal_page(lambda error: redirect(url_for("portal.me")))
        changes.cancel(actor, appointment_id, reason=(request.form.get("reason") or "").strip()[:500] or None,
                       rest_of_series=request.form.get("rest_of_series") == "yes")
        flash("Cancelled. The cancellation is on its way to your calendar.", "info")
        return redirect(url_for("portal.me"))
    return render_template("portal/cancel.html", appointment=appointment,
                           inside_cutoff=not patient_bookings.changeable_online(appointment),
                           clinic=get_settings(), form=form)


@bp.route("/me/intake", methods=["GET", "POST"])
@roles_required("patient")
def intake():
    """The health questionnaire."""
    form_class = intake_form_class()
    existing = patients.intake_of(current_user.id)
    form = form_class(next=request.args.get("next", ""))
    if request.method == "GET" and existing is not None:
        for code, yes in (existing.answers or {}).items():
            if hasattr(form, f"q_{code}"):
                getattr(form, f"q_{code}").data = yes
        form.notes.data = existing.notes
    if form.validate_on_submit():
        answers = {code: bool(getattr(form, f"q_{code}").data) for code in INTAKE_QUESTIONS}
        patients.save_intake(current_user.id, answers, form.notes.data or "")
        flash("Thank you: your questionnaire is saved.", "info")
        return redirect(safe_next(form.next.data, url_for("portal.me")))
    questions = [getattr(form, f"q_{code}") for code in INTAKE_QUESTIONS]
    return render_template("portal/intake.html", form=form, questions=questions, clinic=get_settings())


@bp.route("/me/data.json")
@roles_required("patient")
def my_data():
    """Download my data (everything stored about me) as JSON."""
    body = json.dumps(patients.export_data(current_user.id), indent=2, ensure_ascii=False)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-data.json"'})


@bp.route("/me/delete", methods=["GET", "POST"])
@roles_required("patient")
def delete_account():
    """Ask to delete my account; the clinic confirms (medical records may have to be kept)."""
    form = ConfirmForm()
    if form.validate_on_submit():
        patients.request_erasure(current_user.id)
        flash("Your request is recorded. The clinic will confirm the deletion with you.", "info")
        return redirect(url_for("portal.me"))
    return render_template("portal/delete.html", form=form, clinic=get_settings())


@bp.route("/me/appointments/<int(max=2147483647):appointment_id>.ics")
@login_required
def appointment_ics(appointment_id: int) -> Response:
    """"Add to calendar": the appointment's current invite as a download."""
    return invite_response(load_appointment_for(current_actor(), appointment_id))


@bp.route("/calendar", methods=["GET", "POST"])
@login_required
def calendar_feeds():
    """Subscription links: create one (shown once: only its hash is kept), list and revoke."""
    actor = current_actor()
    form = NewFeedForm()
    form.target.choices = feed_links.feed_choices(actor)
    if form.validate_on_submit():
        scope, target = feed_links.parse_choice(form.target.data)
        secret, _ = feed_links.create_feed(actor, scope, target)
        # Shown once on the next page, then forgotten: the server keeps only its hash.
        session["new_feed_secret"] = secret
        return redirect(url_for("portal.calendar_feeds"))
    secret = session.pop("new_feed_secret", None)
    new_url = None
    if secret:
        new_url = current_app.config["BASE_URL"].rstrip("/") + url_for("feeds.feed", secret=secret)
    feeds = [(feed, feed_links.describe(feed)) for feed in feed_links.feeds_of(actor)]
    return render_template("portal/calendar.html", form=form, feeds=feeds, new_url=new_url,
                           webcal_url=("webcal://" + new_url.split("://", 1)[1]) if new_url else None,
                           revoke_form=ConfirmForm(), clinic=get_settings())


@bp.route("/calendar/<int(max=2147483647):feed_id>/revoke", methods=["POST"])
@login_required
def revoke_feed(feed_id: int):
    """Revoke one of the user's subscription links."""
    if ConfirmForm().validate_on_submit():
        feed_links.revoke_feed(current_actor(), feed_id)  # another's is a 404
        flash("The link is revoked: calendars using it stop updating.", "info")
    return redirect(url_for("portal.calendar_feeds"))
