"""The booking wizard, steps 1-2: practitioner, day and time; the series and its changes.

The choice in progress lives in the session ("pending"), so a patient can sign in or register
half-way without losing it; the booking itself is one service call (see confirm_routes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from booking.extensions import db
from booking.models import Practitioner
from booking.scheduling.clock import local_date, to_local
from booking.scheduling.problems import INTAKE_REQUIRED
from booking.services import choices
from booking.services.availability import available_slots, booking_window
from booking.services.clinic import get_settings
from booking.web.book import bp
from booking.web.book.state import (
    PENDING,
    decode,
    encode,
    needs_consultation,
    parse_dates,
    patient_actor,
    month_grid,
    months_spanning,
    session_count,
    summary_for,
    timeline_for,
    treatment_or_404,
)
from booking.web.book.forms import ChooseSeriesForm


# --- step 1: practitioner, day, time ------------------------------------------------------
@bp.route("/<slug>")
def choose(slug: str):
    """Pick a practitioner (or any), a day on the month calendar, then a free time."""
    treatment = treatment_or_404(slug)
    actor = patient_actor()
    consultation = needs_consultation(treatment, actor)
    if consultation is not None:
        flash(_("%(treatment)s starts with a consultation. Book it first; after it you can book your sessions.",
                treatment=treatment.name), "info")
        return redirect(url_for("book.choose", slug=consultation.slug, then=slug))
    settings = get_settings()
    tz = settings.timezone
    window = booking_window()
    practitioners = [p for p in db.session.scalars(select(Practitioner).where(Practitioner.active.is_(True))
                                                   .order_by(Practitioner.id)) if treatment in p.treatments]
    practitioner_id = request.args.get("practitioner", type=int)
    if practitioner_id is not None and practitioner_id not in {p.id for p in practitioners}:
        practitioner_id = None
    month = window.month(_date_arg("month", suffix="-01"))
    days = choices.days_with_slots(actor, slug, month, practitioner_id)
    day = window.day(_date_arg("day"))
    slots = []
    if day is not None:
        slots = available_slots(actor, treatment_slug=slug, first_day=day, last_day=day,
                                practitioner_id=practitioner_id).slots
    names = {p.id: p.name for p in practitioners}
    then = request.args.get("then")
    day_links = {d: url_for("book.choose", slug=slug, month=month.strftime("%Y-%m"), day=d.isoformat(),
                            practitioner=practitioner_id or "", then=then or "") + "#times" for d in days}
    prev_month = (month - timedelta(days=1)).replace(day=1)
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return render_template(
        "book/choose.html", treatment=treatment, clinic=settings, practitioners=practitioners,
        practitioner_id=practitioner_id, month=month, days=days, day=day, today=window.today,
        slots=[(to_local(s.start, tz), s, names.get(s.practitioner_id, "")) for s in slots],
        prev_month=prev_month if prev_month >= window.first_month else None, next_month=next_month,
        then=then, calendar_weeks=month_grid(month), day_links=day_links,
        summary=summary_for(treatment, practitioner=names.get(practitioner_id), day=day),
    )


def _date_arg(name: str, suffix: str = "") -> date | None:
    """The ISO date in query argument ``name`` (completed with ``suffix``), or None."""
    try:
        return date.fromisoformat(request.args[name] + suffix) if request.args.get(name) else None
    except ValueError:
        return None


@bp.route("/<slug>/pick")
def pick(slug: str):
    """A time was chosen: a single visit goes to review, a series to its proposal."""
    treatment = treatment_or_404(slug)
    (start, practitioner_id), = decode([request.args.get("slot", "")])
    if treatment.protocol is not None and treatment.protocol.sessions > 1:
        return redirect(url_for("book.series", slug=slug, s=encode([(start, practitioner_id)])))
    session[PENDING] = {"slug": slug, "sessions": encode([(start, practitioner_id)]), "avoid": [],
                        "then": request.args.get("then")}
    return redirect(url_for("book.review"))


# --- step 2: the series ---------------------------------------------------------------------
@bp.route("/<slug>/series", methods=["GET", "POST"])
def series(slug: str):
    """The proposed series: dates, gaps, practitioners, changes, dates to keep clear, prep."""
    treatment = treatment_or_404(slug)
    actor = patient_actor()
    form = ChooseSeriesForm()
    if form.validate_on_submit():
        decode(form.sessions.data.split(","), limit=session_count(treatment))  # before it reaches the session
        session[PENDING] = {"slug": slug, "sessions": form.sessions.data.split(","),
                            "avoid": [d.isoformat() for d in parse_dates(form.avoid.data or "")], "prep_read": True}
        return redirect(url_for("book.review"))
    limit = session_count(treatment)
    given = (decode(request.args.getlist("s"), limit)
             or (decode(form.sessions.data.split(","), limit) if form.sessions.data else []))
    if not given:
        return redirect(url_for("book.choose", slug=slug))
    avoid = parse_dates(request.args.get("avoid", "") or (form.avoid.data or ""))
    if request.args.get("keep_clear"):
        avoid = sorted(set(avoid) | set(parse_dates(request.args["keep_clear"])))
    replan = request.args.get("replan", type=int)
    if replan is not None and not 0 <= replan < len(given):
        abort(400, description=_("There is no session %(number)d to plan from; choose one of the %(count)d "
                                 "session(s) shown.", number=replan, count=len(given)))
    if request.args.get("keep_clear") or request.args.get("avoid_changed"):
        # Other dates to keep clear: keep the sessions chosen so far while they still keep them
        # clear; plan again only from the session before the first one that does not.
        broken = choices.keep_clear_break(treatment, [start for start, _ in given], avoid)
        if broken is not None:
            replan = max(0, broken - 1) if replan is None else min(replan, max(0, broken - 1))
    proposal = choices.propose(actor, treatment, given, patient_id=actor.user_id if actor else None,
                               avoid=avoid, replan_from=replan if replan is not None else (0 if len(given) == 1 else None))
    # The wizard asks for the questionnaire itself on the review step: not a problem of a session.
    proposal = replace(proposal, problems=[p for p in proposal.problems if p.code != INTAKE_REQUIRED])
    sessions = [(s.start, s.practitioner_id) for s in proposal.sessions]
    form.sessions.data = ",".join(encode(sessions))
    form.avoid.data = ",".join(d.isoformat() for d in avoid)
    tz = get_settings().timezone
    names = {p.id: p.name for p in db.session.scalars(select(Practitioner))}
    rows = []
    for i, s in enumerate(proposal.sessions):
        gap = (local_date(s.start, tz) - local_date(proposal.sessions[i - 1].start, tz)).days if i else None
        rows.append({"index": i, "local": to_local(s.start, tz), "gap": gap, "placed": s.placed,
                     "practitioner": names.get(s.practitioner_id, "—"),
                     "problems": [p for p in proposal.problems if p.session_index == i]})
    return render_template(
        "book/series.html", treatment=treatment, clinic=get_settings(), rows=rows, form=form,
        proposal=proposal, encoded=encode(sessions), avoid=avoid,
        unclear=[(d, url_for("book.series", slug=slug, s=encode(sessions), avoid_changed=1,
                             avoid=",".join(o.isoformat() for o in avoid if o != d))) for d in avoid],
        general_problems=[p for p in proposal.problems if p.session_index is None],
        timeline=timeline_for(treatment, [s.start for s in proposal.sessions]),
        summary=summary_for(treatment, [(s.start, s.practitioner_id) for s in proposal.sessions if s.placed]),
    )


@bp.route("/<slug>/series/change/<int(max=100):index>")
def change(slug: str, index: int):
    """Another time for one session: a day picker limited to the session's window (only the days
    with free times the rules allow after the previous session can be chosen), then that day's times."""
    treatment = treatment_or_404(slug)
    actor = patient_actor()
    sessions = decode(request.args.getlist("s"), limit=session_count(treatment))
    if not 0 <= index < len(sessions):
        abort(404)
    slots = choices.session_alternatives(actor, treatment, sessions, index,
                                         patient_id=actor.user_id if actor else None)
    tz = get_settings().timezone
    names = choices.practitioner_names()
    avoid = request.args.get("avoid", "")
    by_day: dict[date, list] = {}
    for slot in slots:
        changed = list(sessions)
        changed[index] = (slot.start, slot.practitioner_id)
        local = to_local(slot.start, tz)
        by_day.setdefault(local.date(), []).append(
            (local, names.get(slot.practitioner_id, ""),
             url_for("book.series", slug=slug, s=encode(changed), replan=index, avoid=avoid)))
    current = local_date(sessions[index][0], tz)
    day = _date_arg("day")
    if day not in by_day:
        day = current if current in by_day else (min(by_day) if by_day else None)
    months = months_spanning(by_day)
    encoded = encode(sessions)
    day_links = {d: url_for("book.change", slug=slug, index=index, s=encoded, avoid=avoid, day=d.isoformat())
                 + "#times" for d in by_day}
    return render_template(
        "book/change.html", treatment=treatment, clinic=get_settings(), index=index, months=months,
        day_links=day_links, counts={d: len(v) for d, v in by_day.items()}, day=day,
        options=by_day.get(day, []), current=to_local(sessions[index][0], tz),
        first_day=min(by_day) if by_day else None, last_day=max(by_day) if by_day else None,
        summary=summary_for(treatment, sessions, changing=index),
        back=url_for("book.series", slug=slug, s=encoded, avoid=avoid))
