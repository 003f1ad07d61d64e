"""Portal views: my appointments (with .ics downloads) and my calendar subscription links."""

from __future__ import annotations

import json
from datetime import date, datetime

from flask import Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from booking.extensions import db
from booking.models import INTAKE_QUESTIONS, Series
from booking.models.base import utcnow
from booking.scheduling.clock import to_local
from booking.services import changes, choices, course, feed_links, patient_bookings, patients
from booking.services.clinic import get_settings
from booking.services.loading import load_appointment_for
from booking.web.access import current_actor, roles_required, safe_next
from booking.web.downloads import google_calendar_link, invite_response, series_response
from booking.mail.rendering import manage_url
from booking.web.book.forms import CallbackForm, intake_form_class
from booking.web.book.state import months_spanning
from booking.web.portal import bp
from booking.web.portal.forms import ConfirmForm, NewFeedForm
from booking.web.refusals import refusal_page


@bp.route("/me")
@roles_required("patient")
def me():
    """Upcoming and past appointments, each series with its progress, and what can be done."""
    mine = patient_bookings.overview(current_user.id)
    settings = get_settings()
    manage = manage_url(current_app.config["BASE_URL"])
    return render_template("portal/me.html", upcoming=mine.upcoming, past=mine.past, progress=mine.progress,
                           aftercare=course.aftercare_now(current_user.id),
                           prep=course.prep_states([a.id for a in mine.upcoming]), prep_words=course.PREP_WORDS,
                           changeable=mine.changeable, clinic=settings, form=ConfirmForm(),
                           google={a.id: google_calendar_link(a, settings, manage) for a in mine.upcoming})


@bp.route("/me/series/<int(max=2147483647):series_id>/sessions.ics")
@roles_required("patient")
def series_ics(series_id: int) -> Response:
    """"Add all sessions to my calendar": one file with every session of my series still to attend
    or attended (not the cancelled ones), with the same UIDs as their invites."""
    series = db.session.get(Series, series_id)
    if series is None or series.patient_id != current_user.id:
        abort(404)
    appointments = [a for a in series.appointments if a.status != "cancelled"]
    if not appointments:
        abort(404, description=gettext("This series has no sessions left to add."))
    return series_response(appointments, f"series-{series.id}.ics")


@bp.route("/me/appointments/<int(max=2147483647):appointment_id>/rebook", methods=["GET", "POST"])
@roles_required("patient")
def rebook(appointment_id: int):
    """Book a cancelled session of a series again, at a time inside its window; if no time is
    left there, say so and offer a call back."""
    actor = current_actor()
    cancelled = patient_bookings.rebookable(actor, appointment_id)  # another's is a 404
    form = ConfirmForm()
    replan = (request.form.get("replan") or request.args.get("replan")) == "1"
    if form.validate_on_submit():
        # A refused time (taken meanwhile, outside the window): the page again, with the reason.
        refusal_page(lambda error: _rebook_page(appointment_id, status=error.status, replan=replan))
        iso, _, pid = request.form.get("slot", "").partition("|")
        try:
            start = datetime.fromisoformat(iso)
            practitioner_id = int(pid)
        except ValueError:
            start, practitioner_id = None, 0
        if start is None or start.tzinfo is None or not 1 <= practitioner_id <= 2147483647:
            flash(gettext("Choose one of the offered times."), "error")
            return _rebook_page(appointment_id, status=400, replan=replan)
        patient_bookings.rebook(actor, cancelled.id, start=start, practitioner_id=practitioner_id,
                                replan_following=replan)
        number = (cancelled.series_index or 0) + 1
        if replan:
            flash(gettext("Session %(number)d is booked again and the later sessions re-planned from it. "
                          "Invites are on their way.", number=number), "info")
        else:
            flash(gettext("Session %(number)d is booked again. Invites are on their way.", number=number), "info")
        return redirect(url_for("portal.me"))
    return _rebook_page(appointment_id, replan=replan)


def _day_picker(slots, link, current: date | None = None) -> dict:
    """Offered times as a day picker: the months they span, the days with times (each a link),
    the chosen day (``?day=``, else ``current``, else the first) and its times as radio values."""
    tz = get_settings().timezone
    names = choices.practitioner_names() if slots else {}
    by_day: dict = {}
    for slot in slots:
        local = to_local(slot.start, tz)
        by_day.setdefault(local.date(), []).append((local, names.get(slot.practitioner_id, ""),
                                                    f"{slot.start.isoformat()}|{slot.practitioner_id}"))
    try:
        day = date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        day = None
    if day not in by_day:
        day = current if current in by_day else (min(by_day) if by_day else None)
    months = months_spanning(by_day)
    return {"months": months, "counts": {d: len(v) for d, v in by_day.items()}, "day": day,
            "links": {d: link(d) + "#times" for d in by_day}, "options": by_day.get(day, []),
            "first": min(by_day) if by_day else None, "last": max(by_day) if by_day else None}


def _rebook_page(appointment_id: int, status: int = 200, replan: bool = False):
    """The day picker of the cancelled session's window, the chosen day's times, or a call back.

    When no time is left inside the window, the patient can book it from a new time and have
    the later sessions re-planned from there (``replan``)."""
    actor = current_actor()
    cancelled = patient_bookings.rebookable(actor, appointment_id)
    settings = get_settings()
    tz = settings.timezone
    slots = patient_bookings.rebook_options(actor, appointment_id)
    can_replan = False
    if not slots:
        replanned = patient_bookings.rebook_options(actor, appointment_id, replan_following=True)
        can_replan = bool(replanned)
        if replan:
            slots = replanned
    else:
        replan = False
    picker = _day_picker(slots, lambda d: url_for("portal.rebook", appointment_id=appointment_id, day=d.isoformat(),
                                                  replan="1" if replan else None))
    end = choices.window_end(cancelled)
    note = gettext("Please help me book session %(number)d of my %(treatment)s series again.",
                   number=(cancelled.series_index or 0) + 1, treatment=cancelled.treatment.name)
    callback = CallbackForm(formdata=None, note=note)
    return render_template(
        "portal/rebook.html", appointment=cancelled, picker=picker, window_end=to_local(end, tz) if end else None,
        window_passed=end is not None and end <= utcnow(), form=ConfirmForm(), callback=callback, clinic=settings,
        replan=replan, can_replan=can_replan,
    ), status


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
            flash(gettext("Choose one of the offered times."), "error")
            return redirect(url_for("portal.reschedule", appointment_id=appointment_id))
        changes.reschedule(actor, appointment_id, start=start, practitioner_id=practitioner_id)
        flash(gettext("Moved. A new invite is on its way."), "info")
        return redirect(url_for("portal.me"))
    settings = get_settings()
    inside_cutoff = not patient_bookings.changeable_online(appointment)
    options = [] if inside_cutoff or appointment.status != "booked" else choices.reschedule_options(actor, appointment_id)
    picker = _day_picker(options, lambda d: url_for("portal.reschedule", appointment_id=appointment_id, day=d.isoformat()),
                         current=to_local(appointment.start_at, settings.timezone).date())
    return render_template("portal/reschedule.html", appointment=appointment, picker=picker,
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
        flash(gettext("Cancelled. The cancellation is on its way to your calendar."), "info")
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
        flash(gettext("Thank you: your questionnaire is saved."), "info")
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
        flash(gettext("Your request is recorded. The clinic will confirm the deletion with you."), "info")
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
        flash(gettext("The link is revoked: calendars using it stop updating."), "info")
    return redirect(url_for("portal.calendar_feeds"))
