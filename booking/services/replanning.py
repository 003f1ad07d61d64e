"""Absence re-planning (issue 15): new times for the appointments a schedule change strands.

Time off, changed hours, a room closure or a clinic closure can leave booked appointments outside
the schedule (``schedule_admin.stranded``). For each of them this proposes the best new time
inside its series window, by the rule book's own answers (``choices.reschedule_options``: every
rule, the series neighbours' spacing, the consultation it needs): the same practitioner first,
then another qualified one, the same time of day preferred, then the nearest day. Proposals are
made one after the other as if the earlier ones were already taken (in a transaction that is
rolled back), so two proposals never want the same time, and sessions of one series stranded
together are planned in series order, each from the one before's new time, so the spacing holds.

Reception then applies them all (one transaction, staff reason, audited: if one cannot move,
nothing moves), or offers them to the patients (``offers.make_offer``, up to three held times
each); an offer that expires or is declined comes back to the list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import format_date, format_datetime, gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.database import begin_write, retry_deadlocks
from booking.extensions import db
from booking.models import BLOCKING_STATUSES, Appointment, Offer
from booking.models.base import utcnow
from booking.scheduling import ProposedSession, Slot
from booking.scheduling.clock import local_date, to_local
from booking.scheduling.rulebook import EARLIEST, LATEST
from booking.scheduling.text import N_, join
from booking.scheduling.timeline import from_ticks
from booking.services import audit, changes, choices, offers
from booking.services.actor import Actor
from booking.services.booking import Booking, write_sessions
from booking.services.clinic import get_settings
from booking.services.course import course_problems
from booking.services.errors import Forbidden, InvalidRequest, RuleViolation, ServiceError
from booking.services.loading import load_treatment, patient_facts
from booking.services.schedule_admin import Stranded, stranded

ALTERNATIVES = 3
TRIES = 4  # ranked times tried in the rehearsal before giving up on one appointment


class ReplanFailed(ServiceError):
    """One of the moves of "apply all" was refused: nothing moved (409)."""

    status = 409
    code = "replan_failed"

    def __init__(self, message: str, appointment_id: int, problems=()) -> None:
        super().__init__(message)
        self.appointment_id = appointment_id
        self.problems = list(problems)


@dataclass
class Proposal:
    """A stranded appointment and where it could go."""

    appointment: Appointment
    why_stranded: str
    best: Slot | None
    alternatives: list[Slot] = field(default_factory=list)
    why_not: str | None = None  # when there is no best time
    offer: Offer | None = None  # an open re-planning offer waiting for the patient


@dataclass(frozen=True)
class Choice:
    """Where reception wants one appointment: a start and a practitioner."""

    appointment_id: int
    start: datetime
    practitioner_id: int


def _require_front_desk(actor: Actor) -> None:
    if not actor.is_staff or not actor.can_book_for_others:
        raise Forbidden(gettext("Re-planning is for reception and administrators."))


def stranded_appointments(*, practitioner_id: int | None = None, room_id: int | None = None,
                          first_day: date | None = None, last_day: date | None = None,
                          now: datetime | None = None) -> list[Stranded]:
    """The booked appointments the schedule strands, optionally of one practitioner or room and
    between two clinic dates (inclusive)."""
    found = stranded(practitioner_id=practitioner_id, room_id=room_id, now=now)
    if first_day is None and last_day is None:
        return found
    tz = get_settings().timezone
    return [s for s in found
            if (first_day is None or local_date(s.appointment.start_at, tz) >= first_day)
            and (last_day is None or local_date(s.appointment.start_at, tz) <= last_day)]


def _rank(appointment: Appointment, slots: Sequence[Slot], tz) -> list[Slot]:
    """Same practitioner first, then the nearest time of day, then the nearest day."""
    here = to_local(appointment.start_at, tz)
    minute, day, own = here.hour * 60 + here.minute, here.date(), appointment.practitioner_id
    # Practitioners share start times: each start's distance is worked out once (thousands of slots).
    distance: dict = {}

    def key(slot: Slot):
        start = slot.start
        far = distance.get(start)
        if far is None:
            there = to_local(start, tz)
            far = distance[start] = (abs(there.hour * 60 + there.minute - minute), abs((there.date() - day).days))
        return slot.practitioner_id != own, far, start, slot.practitioner_id

    return sorted(slots, key=key)


def _alternatives(ranked: Sequence[Slot], best: Slot, tz) -> list[Slot]:
    """Up to three other times, on other days or with other practitioners where there are any."""
    seen = {(local_date(best.start, tz), best.practitioner_id)}
    picked: list[Slot] = []
    for slot in ranked:
        mark = (local_date(slot.start, tz), slot.practitioner_id)
        if slot != best and mark not in seen:
            seen.add(mark)
            picked.append(slot)
        if len(picked) == ALTERNATIVES:
            return picked
    for slot in ranked:
        if len(picked) == ALTERNATIVES:
            break
        if slot != best and slot not in picked:
            picked.append(slot)
    return picked


def _series_order(rows: Iterable[Appointment]) -> list[Appointment]:
    """Sessions of one series together and in series order; the series by their first stranded time."""
    rows = list(rows)
    first: dict[object, datetime] = {}
    for row in rows:
        group = ("s", row.series_id) if row.series_id is not None else ("a", row.id)
        first[group] = min(first.get(group, row.start_at), row.start_at)

    def key(row: Appointment):
        group = ("s", row.series_id) if row.series_id is not None else ("a", row.id)
        return (first[group], str(group), row.series_index or 0, row.start_at)

    return sorted(rows, key=key)


def _next_active(appointment: Appointment) -> Appointment | None:
    """The next active session of the appointment's series."""
    if appointment.series is None:
        return None
    later = [a for a in appointment.series.appointments if a.status in BLOCKING_STATUSES
             and (a.series_index or 0) > (appointment.series_index or 0)]
    return min(later, key=lambda a: a.series_index or 0, default=None)


def _why_not(appointment: Appointment, tz) -> str:
    within = choices.allowed_window(appointment)
    if not within:
        facts = patient_facts(appointment.patient_id, appointment.treatment, ignore_ids=frozenset({appointment.id}))
        if facts.intake_missing or facts.contraindicated_ids:
            return gettext("No time can be accepted until the patient's questionnaire is dealt with.")
        return gettext("No time can be accepted: the rules around it (its series neighbours, the consultation "
                       "it needs) leave no window.")
    low = None if within[0][0] == EARLIEST else format_date(local_date(from_ticks(within[0][0]), tz), "EEE dd MMM")
    high = None if within[-1][1] == LATEST else format_date(local_date(from_ticks(within[-1][1] - 1), tz),
                                                             "EEE dd MMM")
    if low and high:
        return gettext("No free time the rules allow inside its window from %(first)s to %(last)s.",
                       first=low, last=high)
    if low:
        return gettext("No free time the rules allow inside its window from %(first)s.", first=low)
    if high:
        return gettext("No free time the rules allow inside its window to %(last)s.", last=high)
    return gettext("No free time the rules allow inside its window.")


def open_replan_offers() -> dict[int, Offer]:
    """The open re-planning offers by the appointment they would move."""
    rows = db.session.scalars(select(Offer).where(Offer.kind == "replan", Offer.status == "open"))
    return {o.appointment_id: o for o in rows if o.appointment_id is not None}


def proposals(actor: Actor, *, practitioner_id: int | None = None, room_id: int | None = None,
              first_day: date | None = None, last_day: date | None = None,
              now: datetime | None = None) -> list[Proposal]:
    """A proposal for every stranded appointment (of one practitioner, room, dates when given).

    Each best time is rehearsed in a transaction rolled back at the end, so the next proposals
    see it taken and a series' next stranded session is planned from it. Books nothing."""
    _require_front_desk(actor)
    now = now or utcnow()
    tz = get_settings().timezone
    found = stranded_appointments(practitioner_id=practitioner_id, room_id=room_id, first_day=first_day,
                                  last_day=last_day, now=now)
    if not found:
        return []
    waiting = open_replan_offers()
    reasons = {s.appointment.id: s.reason for s in found}
    ids = set(reasons)
    begin_write(db.session)
    rows = _series_order(db.session.get(Appointment, i) for i in ids)
    planned: dict[int, tuple[Slot | None, list[Slot], str | None]] = {}
    try:
        for group in _groups(rows):
            if any(row.id in waiting for row in group):
                for row in group:
                    planned[row.id] = (None, [], None)
                continue
            together: dict[int, tuple[Slot, list[Slot]]] = {}
            if _place(actor, group, 0, ids, together, now, tz):
                planned.update({i: (best, _alternatives(ranked, best, tz), None) for i, (best, ranked) in together.items()})
                continue
            for row in group:  # no way to place them all: each where it can go, or why not
                ranked = _options(actor, row, ids, now, tz)
                best = next((slot for slot in ranked[:TRIES] if _rehearse(actor, row, slot, now)), None)
                if best is not None:
                    planned[row.id] = (best, _alternatives(ranked, best, tz), None)
                else:
                    planned[row.id] = (None, _alternatives(ranked, ranked[0], tz) if ranked else [],
                                       _why_not(row, tz) if not ranked else
                                       gettext("The free times the rules allow were all refused on a closer "
                                               "look."))
    finally:
        db.session.rollback()
    planned_rows = [(row.id, *planned[row.id]) for row in rows]
    return [Proposal(db.session.get(Appointment, i), reasons[i], best, alternatives, why,
                     db.session.get(Offer, waiting[i].id) if i in waiting else None)
            for i, best, alternatives, why in planned_rows]


def _groups(rows: list[Appointment]) -> list[list[Appointment]]:
    """The stranded sessions of one series together (rows in ``_series_order``); others alone."""
    groups: list[list[Appointment]] = []
    for row in rows:
        if groups and row.series_id is not None and groups[-1][-1].series_id == row.series_id:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def _options(actor: Actor, row: Appointment, ids: set[int], now: datetime, tz) -> list[Slot]:
    """The rule book's times for ``row`` (its later stranded session moves too: no bound from it), ranked."""
    following = _next_active(row)
    return _rank(row, choices.reschedule_options(
        actor, row.id, now=now, replan_following=following is not None and following.id in ids), tz)


def _candidates(ranked: list[Slot], tz) -> list[Slot]:
    """Times worth trying for a session whose later sessions are still to place: the best, each
    other practitioner's best, the earliest."""
    picked = [ranked[0]]
    for slot in ranked:
        if all(slot.practitioner_id != p.practitioner_id for p in picked):
            picked.append(slot)
    picked.append(min(ranked, key=lambda s: s.start))
    return list(dict.fromkeys(picked))[:TRIES]


def _place(actor: Actor, group: list[Appointment], k: int, ids: set[int],
           out: dict[int, tuple[Slot, list[Slot]]], now: datetime, tz) -> bool:
    """Place the stranded sessions ``group[k:]`` of one series in order, each from the one before's
    new time, trying a few times for each until all fit (rehearsed in savepoints)."""
    if k == len(group):
        return True
    row = group[k]
    ranked = _options(actor, row, ids, now, tz)
    if not ranked:
        return False
    for slot in (_candidates(ranked, tz) if k < len(group) - 1 else ranked[:TRIES]):
        point = db.session.begin_nested()
        if _rehearse(actor, row, slot, now) and _place(actor, group, k + 1, ids, out, now, tz):
            point.commit()
            out[row.id] = (slot, ranked)
            return True
        point.rollback()
    return False


def _rehearse(actor: Actor, appointment: Appointment, slot: Slot, now: datetime) -> bool:
    """Put ``appointment`` at ``slot`` inside the rehearsal (rolled back later): the booking
    pipeline judges it and the next proposals see the time taken. False when refused."""
    try:
        with db.session.begin_nested():
            write_sessions(Booking(actor, appointment.treatment, appointment.patient,
                                   [ProposedSession(slot.start, slot.practitioner_id, None, appointment.series_index)],
                                   None, now, moving=[appointment], rehearsal=True))
            db.session.flush()
    except RuleViolation:
        return False
    return True


def _choices(actor: Actor, items: Sequence[Proposal | Choice | int], now: datetime) -> list[Choice]:
    """What each item asks for: a proposal's best time, a choice as given, an id's proposal."""
    ids = [i for i in items if isinstance(i, int)]
    fresh = {p.appointment.id: p for p in proposals(actor, now=now)} if ids else {}
    out: list[Choice] = []
    for item in items:
        if isinstance(item, int):
            item = fresh.get(item)
            if item is None:
                raise InvalidRequest(gettext("That appointment is not stranded any more; open the list again."))
        if isinstance(item, Proposal):
            if item.best is None:
                raise InvalidRequest(
                    gettext("%(patient)s's appointment has no proposed time: %(reason)s",
                            patient=item.appointment.patient.name, reason=item.why_not) if item.why_not else
                    gettext("%(patient)s's appointment has no proposed time: it is offered to the patient.",
                            patient=item.appointment.patient.name))
            item = Choice(item.appointment.id, item.best.start, item.best.practitioner_id)
        out.append(item)
    if len({c.appointment_id for c in out}) != len(out):
        raise InvalidRequest(gettext("Each appointment can be moved once."))
    return out


def _label(appointment: Appointment) -> str:
    return gettext("%(patient)s's %(treatment)s on %(when)s", patient=appointment.patient.name,
                   treatment=appointment.treatment.name, when=format_datetime(appointment.start_at, "EEE dd MMM HH:mm"))


@retry_deadlocks
def apply_all(actor: Actor, items: Sequence[Proposal | Choice | int], reason: str, *,
              now: datetime | None = None) -> list[Appointment]:
    """Move every appointment to its chosen time in ONE transaction, with the staff reason
    (audited on each). If any move is refused, nothing moves and the error names it."""
    _require_front_desk(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest(gettext("Give a reason for moving these appointments."), code="reason_required")
    now = now or utcnow()
    wanted = _choices(actor, items, now)
    if not wanted:
        return []
    begin_write(db.session)
    by_id = {c.appointment_id: c for c in wanted}
    rows = []
    for choice in wanted:
        row = db.session.get(Appointment, choice.appointment_id)
        if row is None or row.status == "held":
            raise InvalidRequest(gettext("There is no appointment %(id)s.", id=choice.appointment_id))
        rows.append(row)
    moved: list[Appointment] = []
    try:
        for run in _runs(_series_order(rows), set(by_id)):
            _move_run(actor, run, by_id, reason, now)
            for row in run:
                audit.record("replan.applied", actor_id=actor.user_id, entity_type="appointment", entity_id=row.id,
                             after={"start": row.start_at.isoformat(), "practitioner_id": row.practitioner_id},
                             reason=reason, patient_id=row.patient_id, appointment_id=row.id)
                moved.append(row)
    except _RunRefused as refused:
        db.session.rollback()
        error = refused.error
        problems = getattr(error, "rule_problems", []) or []
        # A Text whose parameters are the problems' own Texts: the boundary says it all in the
        # reader's language (the label is in it already).
        text = N_("Nothing was moved: %(label)s cannot move there. %(reason)s", label=refused.label,
                  reason=join([p.message for p in problems], " ") if problems else error.text)
        raise ReplanFailed(text, refused.appointment_id, problems) from None
    db.session.commit()
    return moved


class _RunRefused(Exception):
    def __init__(self, appointment_id: int, label: str, error: ServiceError) -> None:
        super().__init__(label)
        self.appointment_id, self.label, self.error = appointment_id, label, error


def _runs(rows: list[Appointment], moving: set[int]) -> list[list[Appointment]]:
    """Consecutive active sessions of one series that all move, together; others alone."""
    runs: list[list[Appointment]] = []
    for row in rows:
        if runs and row.series_id is not None and runs[-1][-1].series_id == row.series_id:
            following = _next_active(runs[-1][-1])
            if following is not None and following.id == row.id:
                runs[-1].append(row)
                continue
        runs.append([row])
    return runs


def _move_run(actor: Actor, run: list[Appointment], by_id: dict[int, Choice], reason: str, now: datetime) -> None:
    """Move one appointment (``changes.move``), or consecutive sessions of a series together
    through the same pipeline, judged between the sessions that stay."""
    first = run[0]
    label = _label(first)
    try:
        if len(run) == 1:
            choice = by_id[first.id]
            changes.move(actor, first, start=choice.start, practitioner_id=choice.practitioner_id,
                         override_reason=reason, now=now)
            return
        before, _ = changes._series_neighbours(first)
        _, after = changes._series_neighbours(run[-1])
        for row in run:
            if row.status != "booked":
                raise changes.InvalidState(gettext("Only a booked appointment can be moved; this one is %(state)s.",
                                                   state=changes.status_word(row.status)))
        starts = [by_id[r.id].start for r in run]
        problems = [p for r in run for p in changes._cutoff_problems(r, now)]
        problems += course_problems(first.series, adding=0, starts=starts, index=first.series_index)
        write_sessions(Booking(
            actor, load_treatment(first.treatment.slug), first.patient,
            [ProposedSession(by_id[r.id].start, by_id[r.id].practitioner_id, None, r.series_index) for r in run],
            reason, now, moving=run, problems=problems,
            neighbours_before=max((a.start_at for a in before), default=None),
            neighbours_after=min((a.start_at for a in after), default=None),
        ))
    except ServiceError as error:
        raise _RunRefused(first.id, label, error) from None


def offer_all(actor: Actor, items: Sequence[Proposal] | None = None, *, practitioner_id: int | None = None,
              room_id: int | None = None, first_day: date | None = None, last_day: date | None = None,
              now: datetime | None = None) -> tuple[list[offers.Made], list[Proposal]]:
    """Offer each proposal to its patient: the best time and two alternatives, held until the
    offer expires, with a signed link. Returns the offers made and the proposals not offered
    (no time, an offer already open, or none of its times could be held)."""
    _require_front_desk(actor)
    now = now or utcnow()
    if items is None:
        items = proposals(actor, practitioner_id=practitioner_id, room_id=room_id, first_day=first_day,
                          last_day=last_day, now=now)
    begin_write(db.session)
    waiting = open_replan_offers()
    made, skipped = [], []
    for proposal in items:
        appointment = db.session.get(Appointment, proposal.appointment.id)
        if (proposal.best is None or appointment is None or appointment.status != "booked"
                or appointment.id in waiting):
            skipped.append(proposal)
            continue
        offer = offers.make_offer(actor, kind="replan", patient=appointment.patient, treatment=appointment.treatment,
                                  slots=[proposal.best, *proposal.alternatives[:2]], appointment=appointment,
                                  expires_at=offers.offer_window("replan", now), now=now)
        if offer is None:
            skipped.append(proposal)
        else:
            made.append(offer)
    db.session.commit()
    return made, skipped


def returned_offers() -> list[Offer]:
    """Re-planning offers that expired or were declined, for appointments still booked and not
    offered again since: they are reception's again."""
    rows = list(db.session.scalars(
        select(Offer).where(Offer.kind == "replan", Offer.appointment_id.is_not(None))
        .options(selectinload(Offer.patient)).order_by(Offer.appointment_id, Offer.created_at, Offer.id)))
    latest: dict[int, Offer] = {}
    for offer in rows:
        latest[offer.appointment_id] = offer
    back = []
    for offer in latest.values():
        appointment = db.session.get(Appointment, offer.appointment_id)
        if offer.status in ("expired", "declined") and appointment is not None and appointment.status == "booked":
            back.append(offer)
    return sorted(back, key=lambda o: (o.answered_at or o.expires_at, o.id))


def open_offers_list() -> list[Offer]:
    """Open re-planning offers, the soonest to expire first."""
    return list(db.session.scalars(select(Offer).where(Offer.kind == "replan", Offer.status == "open")
                                   .order_by(Offer.expires_at, Offer.id)))
