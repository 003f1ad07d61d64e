"""Portal views: my appointments (with .ics downloads) and my calendar subscription links."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.calendar import invites
from booking.extensions import db
from booking.mail.notifications import manage_url
from booking.models import Appointment
from booking.models.base import utcnow
from booking.services import feed_links, tokens
from booking.services.clinic import get_settings
from booking.services.errors import ServiceError
from booking.services.loading import load_appointment_for
from booking.web.access import current_actor, roles_required
from booking.web.portal import bp
from booking.web.portal.forms import ConfirmForm, NewFeedForm


@bp.route("/me")
@roles_required("patient")
def me():
    """The patient's upcoming and past appointments, each with "Add to calendar"."""
    rows = db.session.scalars(
        select(Appointment).where(Appointment.patient_id == current_user.id)
        .options(selectinload(Appointment.treatment), selectinload(Appointment.practitioner))
        .order_by(Appointment.start_at)
    ).all()
    now = utcnow()
    upcoming = [a for a in rows if a.end_at >= now and a.status != "cancelled"]
    past = [a for a in rows if a not in upcoming]
    return render_template("portal/me.html", upcoming=upcoming, past=list(reversed(past)), clinic=get_settings())


@bp.route("/me/appointments/<int:appointment_id>.ics")
@login_required
def appointment_ics(appointment_id: int) -> Response:
    """"Add to calendar": the appointment's current invite as a download."""
    try:
        appointment = load_appointment_for(current_actor(), appointment_id)
    except ServiceError:
        abort(404)
    body = invites.build_current(appointment, get_settings(), manage_url())
    method = "CANCEL" if appointment.status == "cancelled" else "REQUEST"
    return Response(body, content_type=f"text/calendar; charset=utf-8; method={method}", headers={
        "Content-Disposition": f'attachment; filename="appointment-{appointment.id}.ics"'})


@bp.route("/calendar", methods=["GET", "POST"])
@login_required
def calendar_feeds():
    """Subscription links: create one (shown once: only its hash is kept), list and revoke."""
    actor = current_actor()
    form = NewFeedForm()
    form.target.choices = feed_links.feed_choices(actor)
    if form.validate_on_submit():
        scope, target = feed_links.parse_choice(form.target.data)
        try:
            secret, _ = tokens.create_feed(actor, scope, target)
        except ServiceError as error:
            flash(error.message, "error")
            return redirect(url_for("portal.calendar_feeds"))
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


@bp.route("/calendar/<int:feed_id>/revoke", methods=["POST"])
@login_required
def revoke_feed(feed_id: int):
    """Revoke one of the user's subscription links."""
    if ConfirmForm().validate_on_submit():
        try:
            tokens.revoke_feed(current_actor(), feed_id)
            flash("The link is revoked: calendars using it stop updating.", "info")
        except ServiceError:
            abort(404)
    return redirect(url_for("portal.calendar_feeds"))
