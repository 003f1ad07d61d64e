"""The booking wizard. The choice in progress lives in the session ("pending"), so a patient
can sign in or register half-way without losing it; the booking itself is one service call."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from booking.extensions import db
from booking.models import Appointment, Practitioner, Series, Treatment
from booking.models.base import utcnow
from booking.scheduling.clock import local_date, to_local
from booking.scheduling.model import PrepStep
from booking.scheduling.prep import prep_timeline
from booking.services import booking as booking_service
from booking.services import choices, patients
from booking.services.actor import Actor
from booking.services.availability import available_slots
from booking.services.booking import SessionRequest
from booking.services.clinic import get_settings
from booking.services.errors import RuleViolation, ServiceError
from booking.services.loading import load_treatment, patient_facts
from booking.web.book import bp
from booking.web.book.forms import CallbackForm, ChooseSeriesForm, ConfirmForm

PENDING = "pending_booking"


# --- helpers ----------------------------------------------------------------------------
def patient_actor() -> Actor | None:
    """The signed-in patient, or None (anonymous visitors and staff browse as guests)."""
    if current_user.is_authenticated and current_user.role == "patient":
        return Actor.of(current_user)
    return None


def treatment_or_404(slug: str) -> Treatment:
    """An active treatment, or 404."""
    try:
        return load_treatment(slug)
    except ServiceError:
        abort(404, description="There is no such treatment.")


def encode(sessions) -> list[str]:
    """Sessions as "iso|practitioner" strings for links and hidden fields."""
    return [f"{start.isoformat()}|{pid}" for start, pid in sessions]


def decode(values: list[str]) -> list[tuple[datetime, int]]:
    """Parse "iso|practitioner" strings; 400 on anything malformed."""
    sessions = []
    for value in values:
        iso, _, pid = value.partition("|")
        try:
            start = datetime.fromisoformat(iso)
            practitioner = int(pid)
        except ValueError:
            abort(400, description="That booking link is damaged; please start again.")
        if start.tzinfo is None or not 2000 <= start.year <= 2100:
            abort(400, description="That booking link is damaged; please start again.")
        sessions.append((start, practitioner))
    return sessions


def parse_dates(raw: str) -> list[date]:
    """Comma-separated ISO dates (bad ones are ignored with a message)."""
    days = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            days.append(date.fromisoformat(part))
        except ValueError:
            flash(f"“{part}” is not a date; use the date picker.", "error")
    return sorted(set(days))


def timeline_for(treatment: Treatment, starts: list[datetime]):
    """The prep timeline of the sessions, with local times for display."""
    protocol = treatment.protocol
    steps = [PrepStep(r.instruction, r.lead_hours, r.remind) for r in (protocol.prep_rules if protocol else [])]
    tz = get_settings().timezone
    return [(entry, to_local(entry.at, tz)) for entry in prep_timeline(starts, steps, tz)]


def needs_consultation(treatment: Treatment, actor: Actor | None) -> Treatment | None:
    """The consultation a visitor must book first, or None."""
    protocol = treatment.protocol
    if protocol is None or protocol.consultation_treatment_id is None:
        return None
    if actor is not None and patient_facts(actor.user_id, treatment).consultation_starts:
        return None
    return db.session.get(Treatment, protocol.consultation_treatment_id)


# --- step 1: practitioner, day, time ------------------------------------------------------
@bp.route("/<slug>")
def choose(slug: str):
    """Pick a practitioner (or any), a day on the month calendar, then a free time."""
    treatment = treatment_or_404(slug)
    actor = patient_actor()
    consultation = needs_consultation(treatment, actor)
    if consultation is not None:
        flash(f"{treatment.name} starts with a consultation. Book it first; after it you can book "
              f"your sessions.", "info")
        return redirect(url_for("book.choose", slug=consultation.slug, then=slug))
    settings = get_settings()
    tz = settings.timezone
    today = local_date(utcnow(), tz)
    practitioners = [p for p in db.session.scalars(select(Practitioner).where(Practitioner.active.is_(True))
                                                   .order_by(Practitioner.id)) if treatment in p.treatments]
    practitioner_id = request.args.get("practitioner", type=int)
    if practitioner_id is not None and practitioner_id not in {p.id for p in practitioners}:
        practitioner_id = None
    try:
        month = date.fromisoformat(request.args.get("month", "") + "-01") if request.args.get("month") else today.replace(day=1)
    except ValueError:
        month = today.replace(day=1)
    month = min(max(month, today.replace(day=1)), (today + timedelta(days=settings.horizon_days)).replace(day=1))
    days = choices.days_with_slots(actor, slug, month, practitioner_id)
    day = None
    slots = []
    if request.args.get("day"):
        try:
            day = date.fromisoformat(request.args["day"])
        except ValueError:
            day = None
        if day is not None and not today <= day <= today + timedelta(days=settings.horizon_days + 1):
            day = None
    if day is not None:
        slots = available_slots(actor, treatment_slug=slug, first_day=day, last_day=day,
                                practitioner_id=practitioner_id).slots
    names = {p.id: p.name for p in practitioners}
    prev_month = (month - timedelta(days=1)).replace(day=1)
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return render_template(
        "book/choose.html", treatment=treatment, clinic=settings, practitioners=practitioners,
        practitioner_id=practitioner_id, month=month, days=days, day=day, today=today,
        slots=[(to_local(s.start, tz), s, names.get(s.practitioner_id, "")) for s in slots],
        prev_month=prev_month if prev_month >= today.replace(day=1) else None, next_month=next_month,
        then=request.args.get("then"), calendar_weeks=_month_grid(month),
    )


def _month_grid(month: date) -> list[list[date | None]]:
    """Weeks (Monday first) of the month, None outside it."""
    first = month - timedelta(days=month.weekday())
    weeks = []
    day = first
    while day < (month.replace(day=28) + timedelta(days=4)).replace(day=1) or day.weekday() != 0:
        week = []
        for _ in range(7):
            week.append(day if day.month == month.month else None)
            day += timedelta(days=1)
        weeks.append(week)
        if day.month != month.month and day.weekday() == 0:
            break
    return weeks


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
        session[PENDING] = {"slug": slug, "sessions": form.sessions.data.split(","),
                            "avoid": [d.isoformat() for d in parse_dates(form.avoid.data or "")], "prep_read": True}
        decode(session[PENDING]["sessions"])
        return redirect(url_for("book.review"))
    given = decode(request.args.getlist("s")) or (decode(form.sessions.data.split(",")) if form.sessions.data else [])
    if not given:
        return redirect(url_for("book.choose", slug=slug))
    avoid = parse_dates(request.args.get("avoid", "") or (form.avoid.data or ""))
    if request.args.get("keep_clear"):
        avoid = sorted(set(avoid) | set(parse_dates(request.args["keep_clear"])))
    replan = request.args.get("replan", type=int)
    if request.args.get("keep_clear") or request.args.get("avoid_changed"):
        replan = 0  # new dates to keep clear: plan again from the first session
    proposal = choices.propose(actor, treatment, given, patient_id=actor.user_id if actor else None,
                               avoid=avoid, replan_from=replan if replan is not None else (0 if len(given) == 1 else None))
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
        general_problems=[p for p in proposal.problems if p.session_index is None],
        timeline=timeline_for(treatment, [s.start for s in proposal.sessions]),
    )


@bp.route("/<slug>/series/change/<int(max=100):index>")
def change(slug: str, index: int):
    """Other free times for one session, inside its window after the previous one."""
    treatment = treatment_or_404(slug)
    actor = patient_actor()
    sessions = decode(request.args.getlist("s"))
    if not 0 <= index < len(sessions):
        abort(404)
    slots = choices.session_alternatives(actor, treatment, sessions, index,
                                         patient_id=actor.user_id if actor else None)
    tz = get_settings().timezone
    names = {p.id: p.name for p in db.session.scalars(select(Practitioner))}
    options = []
    for slot in slots:
        changed = list(sessions)
        changed[index] = (slot.start, slot.practitioner_id)
        options.append((to_local(slot.start, tz), names.get(slot.practitioner_id, ""),
                        url_for("book.series", slug=slug, s=encode(changed), replan=index,
                                avoid=request.args.get("avoid", ""))))
    by_day: dict[date, list] = {}
    for option in options:
        by_day.setdefault(option[0].date(), []).append(option)
    return render_template("book/change.html", treatment=treatment, clinic=get_settings(), index=index,
                           by_day=by_day, back=url_for("book.series", slug=slug, s=encode(sessions),
                                                        avoid=request.args.get("avoid", "")))


# --- step 3: sign in, questionnaire, confirm ---------------------------------------------
@bp.route("/review", methods=["GET", "POST"])
def review():
    """Sign in or register, the questionnaire, then confirm: all sessions or none."""
    pending = session.get(PENDING)
    if not pending:
        flash("Choose a treatment and a time first.", "info")
        return redirect(url_for("public.home"))
    if not current_user.is_authenticated:
        return redirect(url_for("auth.register", next=url_for("book.review")))
    if current_user.role != "patient":
        abort(403, description="Staff book for patients from the reception calendar.")
    treatment = treatment_or_404(pending["slug"])
    if patients.intake_of(current_user.id) is None:
        return redirect(url_for("portal.intake", next=url_for("book.review")))
    reasons = patients.contraindications_for(current_user.id, treatment)
    if reasons:
        return render_template("book/contraindicated.html", treatment=treatment, reasons=reasons,
                               form=CallbackForm(), clinic=get_settings())
    sessions = decode(pending["sessions"])
    form = ConfirmForm()
    conflict = None
    if form.validate_on_submit():
        try:
            result = _book(treatment, sessions, pending)
        except RuleViolation as error:
            conflict = _conflict_view(treatment, sessions, error)
        else:
            session.pop(PENDING, None)
            return redirect(result)
    tz = get_settings().timezone
    names = {p.id: p.name for p in db.session.scalars(select(Practitioner))}
    return render_template(
        "book/review.html", treatment=treatment, clinic=get_settings(), form=form, conflict=conflict,
        sessions=[(to_local(s, tz), names.get(p, "")) for s, p in sessions],
        timeline=timeline_for(treatment, [s for s, _ in sessions]),
    )


def _book(treatment: Treatment, sessions, pending) -> str:
    """Book through the services; the URL of the confirmation page."""
    actor = Actor.of(current_user)
    if treatment.protocol is not None and treatment.protocol.sessions > 1:
        series = booking_service.book_series(
            actor, treatment_slug=treatment.slug, sessions=[SessionRequest(s, p) for s, p in sessions],
            avoid_dates=[date.fromisoformat(d) for d in pending.get("avoid", [])])
        if pending.get("prep_read"):
            for appointment in series.appointments:
                appointment.prep_acknowledged_at = utcnow()
            db.session.commit()
        return url_for("book.done", series=series.id)
    start, practitioner_id = sessions[0]
    appointment = booking_service.book_appointment(actor, treatment_slug=treatment.slug, start=start,
                                                   practitioner_id=practitioner_id)
    return url_for("book.done", appointment=appointment.id, then=pending.get("then") or "")


def _conflict_view(treatment: Treatment, sessions, error: RuleViolation) -> dict:
    """What to show when a rule refused the booking: which session, and the nearest free times."""
    actor = Actor.of(current_user)
    tz = get_settings().timezone
    taken = sorted({p.session_index or 0 for p in error.problems if p.code in ("slot_taken", "patient_busy")})
    alternatives = {}
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
            options.append((to_local(slot.start, tz), url_for("book.replace", index=index,
                                                              slot=encode([(slot.start, slot.practitioner_id)])[0])))
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
    flash("Updated: check the new times, then confirm.", "info")
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
        flash("Thank you: the clinic will call you.", "info")
        return redirect(url_for("public.home"))
    return redirect(url_for("book.review"))


@bp.route("/done")
def done():
    """The confirmation: the sessions, the prep timeline, Add to calendar, subscribe."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    appointments: list[Appointment] = []
    if request.args.get("series", type=int):
        series_row = db.session.get(Series, request.args.get("series", type=int))
        if series_row is None or series_row.patient_id != current_user.id:
            abort(404)
        appointments = [a for a in series_row.appointments if a.status != "cancelled"]
    elif request.args.get("appointment", type=int):
        row = db.session.get(Appointment, request.args.get("appointment", type=int))
        if row is None or row.patient_id != current_user.id:
            abort(404)
        appointments = [row]
    if not appointments:
        abort(404)
    treatment = appointments[0].treatment
    then = db.session.scalar(select(Treatment).where(Treatment.slug == request.args.get("then", "")))
    tz = get_settings().timezone
    return render_template("book/done.html", treatment=treatment, clinic=get_settings(),
                           appointments=[(a, to_local(a.start_at, tz)) for a in appointments],
                           timeline=timeline_for(treatment, [a.start_at for a in appointments]), then=then)
