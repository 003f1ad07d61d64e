"""What the booking pages offer: days with free times, a series proposal with patient-chosen
changes, alternatives for one session, and the times a booked session can move to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from booking.extensions import db
from booking.models import Appointment, Practitioner, Treatment
from booking.models.base import utcnow
from booking.scheduling import PlannedSession, Problem, ProposedSession, Slot, check_booking, free_slots
from booking.scheduling.clock import local_date
from booking.scheduling.conflict_checks import as_booked
from booking.scheduling.intervals import intersect_pairs, merge_pairs
from booking.scheduling.rulebook import EARLIEST, LATEST, consultations_allowed, spacing_allowed
from booking.scheduling.series import first_keep_clear_break, spacing
from booking.scheduling.series_start import RECORD_CODES
from booking.scheduling.timeline import from_ticks
from booking.services import consultations, schedules
from booking.services.actor import Actor
from booking.services.availability import available_slots, search_window
from booking.services.booking import assign_rooms, plan_for
from booking.services.clinic import get_settings
from booking.services.loading import load_appointment_for, load_context, patient_facts


@dataclass(frozen=True)
class Proposal:
    """A series as the patient currently has it: sessions in order and what is wrong with it."""

    sessions: list[PlannedSession]
    problems: list[Problem]

    @property
    def complete(self) -> bool:
        """Every session placed and nothing refused."""
        return all(s.placed for s in self.sessions) and not self.problems


def practitioner_names() -> dict[int, str]:
    """Every practitioner's name by id: each offered time says with whom it is."""
    return {p.id: p.name for p in db.session.scalars(select(Practitioner).options(joinedload(Practitioner.user)))}


def days_with_slots(actor: Actor | None, slug: str, month_first: date, practitioner_id: int | None) -> dict[date, int]:
    """For each day of the month with free times, how many."""
    next_month = (month_first.replace(day=28) + timedelta(days=4)).replace(day=1)
    result = available_slots(actor, treatment_slug=slug, first_day=month_first,
                             last_day=next_month - timedelta(days=1), practitioner_id=practitioner_id)
    tz = get_settings().timezone
    days: dict[date, int] = {}
    for slot in result.slots:
        day = local_date(slot.start, tz)
        days[day] = days.get(day, 0) + 1
    return days


def propose(
    actor: Actor | None, treatment: Treatment, sessions: Sequence[tuple[datetime, int]], *,
    patient_id: int | None, avoid: Sequence[date] = (), replan_from: int | None = None, now: datetime | None = None,
) -> Proposal:
    """The series from the given sessions; sessions after ``replan_from`` are planned afresh.

    With one given session (the first) the whole series is planned from it. Sessions the
    patient chose are judged by the booking check; the planner places the rest around them
    by the same rules, so the page can warn before confirming.
    """
    now = now or utcnow()
    spec = schedules.treatment_spec(treatment)
    total = spec.protocol.sessions
    keep = list(sessions[: (replan_from + 1) if replan_from is not None else len(sessions)])
    duration = timedelta(minutes=spec.duration_minutes)
    planned: list[PlannedSession] = [
        PlannedSession(i, s, s + duration, p, None, True) for i, (s, p) in enumerate(keep)
    ]
    problems: list[Problem] = []
    if len(keep) > 1 or len(keep) == total:
        problems += _check_chosen(treatment, keep, patient_id=patient_id, now=now)
    if len(keep) < total:
        held = [as_booked(spec, s, p, None, patient_id, appointment_id=-(i + 1)) for i, (s, p) in enumerate(keep[:-1])]
        # The sessions planned afresh prefer the series' own practitioner (session 0's), not the
        # one the patient took for a single moved session.
        plan = plan_for(treatment.id, keep[-1][0], practitioner_id=keep[-1][1], patient_id=patient_id, avoid_dates=avoid,
                        sessions=total - len(keep) + 1, held=held, now=now,
                        later_practitioner_id=keep[0][1] if len(keep) > 1 else None)
        offset = len(keep) - 1
        planned[-1] = replace(plan.sessions[0], index=offset) if len(keep) == 1 else planned[-1]
        planned += [replace(s, index=s.index + offset) for s in plan.sessions[1:]]
        # The plan's first session is the last one kept: judged above, unless it is the only one.
        problems += [replace(p, session_index=p.session_index + offset) for p in plan.problems
                     if len(keep) == 1 or p.session_index not in (None, 0)]
    return Proposal(planned, list(dict.fromkeys(problems)))


def keep_clear_break(treatment: Treatment, starts: Sequence[datetime], avoid: Sequence[date]) -> int | None:
    """The first of the chosen ``starts`` whose day, prep steps or aftercare spoil an ``avoid`` date."""
    return first_keep_clear_break(schedules.treatment_spec(treatment), starts, avoid, get_settings().timezone)


def _check_chosen(
    treatment: Treatment, chosen: Sequence[tuple[datetime, int]], *, patient_id: int | None, now: datetime
) -> list[Problem]:
    """What the booking check says of the sessions the patient chose, in series order."""
    spec = schedules.treatment_spec(treatment)
    starts = [s for s, _ in chosen]
    context = load_context(min(starts), max(starts) + timedelta(minutes=spec.duration_minutes),
                           treatment_id=treatment.id, patient_id=patient_id)
    sessions, _ = assign_rooms(spec, [ProposedSession(s, p, None, i) for i, (s, p) in enumerate(chosen)], context)
    facts = patient_facts(patient_id, treatment) if patient_id else None
    problems = check_booking(
        spec, sessions, patient_id=patient_id, practitioners=context.practitioners, rooms=context.rooms,
        booked=context.booked, policy=context.policy, now=now,
        consultation_starts=facts.consultation_starts if facts else (),
        contraindicated_ids=facts.contraindicated_ids if facts else frozenset(),
        intake_missing=facts.intake_missing if facts else False,
    )
    if facts is None:
        problems = [p for p in problems if p.code not in RECORD_CODES]
    return problems


def session_alternatives(
    actor: Actor | None, treatment: Treatment, sessions: Sequence[tuple[datetime, int]], index: int,
    *, patient_id: int | None, now: datetime | None = None,
) -> list[Slot]:
    """Free times for session ``index`` the rules allow after the sessions before it (the ones
    after it are planned again from the new time)."""
    now = now or utcnow()
    spec = schedules.treatment_spec(treatment)
    tz = get_settings().timezone
    current = local_date(sessions[index][0], tz)
    facts = patient_facts(patient_id, treatment) if patient_id else None
    if index == 0:
        first_day, last_day = current - timedelta(days=7), current + timedelta(days=7)
        within = consultations_allowed(spec.protocol, facts.consultation_starts, tz) if facts else None
    else:
        _, low, high = spacing(spec.protocol)
        previous = sessions[index - 1][0]
        first_day = local_date(previous, tz) + timedelta(days=low)
        last_day = local_date(previous, tz) + timedelta(days=high)
        within = [spacing_allowed(spec.protocol, tz, previous=previous)]
    return _free(treatment, first_day, last_day, now=now, patient_id=patient_id, within=within,
                 held=[as_booked(spec, s, p, None, patient_id, appointment_id=-(i + 1))
                       for i, (s, p) in enumerate(sessions[:index])])


def reschedule_options(
    actor: Actor, appointment_id: int, *, now: datetime | None = None, include_current: bool = False,
    replan_following: bool = False,
) -> list[Slot]:
    """Times a booked appointment can move to that keep everything around it valid: its series
    neighbours' spacing, the consultation it needs, the sessions that need it (a consultation).
    For a cancelled session of a series (booking it again) ``include_current`` keeps its old time;
    with ``replan_following`` the later sessions will be planned again from the new time, so
    they do not bound it."""
    now = now or utcnow()
    appointment = load_appointment_for(actor, appointment_id)
    treatment = appointment.treatment
    tz = get_settings().timezone
    current = max(local_date(appointment.start_at, tz), local_date(now, tz))
    within = allowed_window(appointment, following=not replan_following)
    if not within:
        return []
    first_day = current - timedelta(days=14) if within[0][0] == EARLIEST else local_date(from_ticks(within[0][0]), tz)
    last_day = current + timedelta(days=14) if within[-1][1] == LATEST else local_date(from_ticks(within[-1][1] - 1), tz)
    slots = _free(treatment, first_day, last_day, now=now, patient_id=appointment.patient_id, within=within,
                  ignore_ids=frozenset({appointment.id}))
    return [s for s in slots if include_current or s.start != appointment.start_at]


def allowed_window(appointment: Appointment, *, following: bool = True) -> list[tuple[int, int]]:
    """When (as tick pairs) the rules let ``appointment`` take place given everything around it:
    its series neighbours' spacing (the later ones only with ``following``), the consultation it
    needs, the sessions that need it. Empty when nothing would be accepted (the questionnaire is
    missing or rules it out)."""
    treatment = appointment.treatment
    spec = schedules.treatment_spec(treatment)
    tz = get_settings().timezone
    before, after = [], []
    if appointment.series is not None:
        active = [a for a in appointment.series.appointments if a.id != appointment.id
                  and a.status in ("booked", "checked_in", "completed")]
        before = [a for a in active if (a.series_index or 0) < (appointment.series_index or 0)]
        after = [a for a in active if (a.series_index or 0) > (appointment.series_index or 0)] if following else []
    within = [spacing_allowed(spec.protocol, tz, previous=before[-1].start_at if before else None,
                              following=after[0].start_at if after else None)]
    facts = patient_facts(appointment.patient_id, treatment, ignore_ids=frozenset({appointment.id}))
    if facts.contraindicated_ids or facts.intake_missing:
        return []  # no time would be accepted until the questionnaire is dealt with
    if appointment.series_index in (None, 0):
        needed = consultations_allowed(spec.protocol, facts.consultation_starts, tz)
        if needed is not None:
            within = intersect_pairs(within, merge_pairs(needed))
    depending = consultations.keeping_dependents(appointment)
    if depending is not None:
        within = intersect_pairs(within, depending)
    return within


def window_end(appointment: Appointment) -> datetime | None:
    """The last moment the rules let ``appointment`` start (None: no end, or no window at all)."""
    within = allowed_window(appointment)
    return from_ticks(within[-1][1] - 1) if within and within[-1][1] != LATEST else None


def _free(
    treatment: Treatment, first_day: date, last_day: date, *, now: datetime, patient_id: int | None,
    within, held: Sequence = (), ignore_ids: frozenset[int] = frozenset(),
) -> list[Slot]:
    """Free slots for a patient between two local dates, by every rule, within ``within``."""
    tz = get_settings().timezone
    first_day = max(first_day, local_date(now, tz))
    if last_day < first_day:
        return []
    spec = schedules.treatment_spec(treatment)
    start, end = search_window(first_day, last_day, tz)
    context = load_context(start, end, treatment_id=treatment.id, patient_id=patient_id)
    booked = [b for b in context.booked if b.appointment_id not in ignore_ids] + list(held)
    return free_slots(spec, context.practitioner_list, context.room_list, booked, context.policy,
                      first_day, last_day, now, patient_id=patient_id, within=within)


def free_for_patient(
    treatment: Treatment, first_day: date, last_day: date, *, now: datetime, patient_id: int | None,
    within=None,
) -> list[Slot]:
    """Free slots for a patient between two local dates by every rule, within ``within`` (series
    starts allowed; None: any): reception's "next free time" asks this, a chunk at a time."""
    return _free(treatment, first_day, last_day, now=now, patient_id=patient_id, within=within)
