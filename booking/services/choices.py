"""What the booking pages offer: days with free times, a series proposal with patient-chosen
changes, alternatives for one session, and the times a booked session can move to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from booking.models import Treatment
from booking.models.base import utcnow
from booking.scheduling import PlannedSession, Problem, ProposedSession, Slot, check_booking, free_slots, plan_series
from booking.scheduling.clock import local_date, local_day_bounds
from booking.scheduling.series import spacing
from booking.services import schedules
from booking.services.actor import Actor
from booking.services.availability import available_slots
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

    With one given session (the first) the whole series is planned from it. The rules a
    booking would apply are checked on the result so the page can warn before confirming.
    """
    now = now or utcnow()
    spec = schedules.treatment_spec(treatment)
    total = spec.protocol.sessions
    keep = list(sessions[: (replan_from + 1) if replan_from is not None else len(sessions)])
    first = keep[-1][0] if keep else now
    span = spacing(spec.protocol)[2] * max(1, total) + 20
    context = load_context(min(s for s, _ in keep) - timedelta(days=1), first + timedelta(days=span),
                           treatment_id=treatment.id)
    planned: list[PlannedSession] = [
        PlannedSession(i, s, s + timedelta(minutes=spec.duration_minutes), p, None, True) for i, (s, p) in enumerate(keep)
    ]
    problems: list[Problem] = []
    if len(keep) < total:
        booked = list(context.booked)
        rest = replace(spec, protocol=replace(spec.protocol, sessions=total - len(keep) + 1))
        plan = plan_series(rest, keep[-1][0], context.practitioner_list, context.room_list, booked, context.policy, now,
                           practitioner_id=keep[-1][1], patient_id=patient_id, avoid_dates=tuple(avoid))
        offset = len(keep) - 1
        for s in plan.sessions[1:]:
            planned.append(replace(s, index=s.index + offset))
        problems += [replace(p, session_index=p.session_index + offset) for p in plan.problems
                     if p.session_index not in (None, 0)]
    placed = [ProposedSession(s.start, s.practitioner_id, None, s.index) for s in planned
              if s.placed and s.practitioner_id is not None]
    facts = patient_facts(patient_id, treatment) if patient_id else None
    from booking.services.booking import assign_rooms

    placed, _ = assign_rooms(spec, placed, context)
    checked = check_booking(
        spec, placed, patient_id=patient_id or -1, practitioners=context.practitioners, rooms=context.rooms,
        booked=context.booked, policy=context.policy, now=now,
        consultation_starts=facts.consultation_starts if facts else (),
        contraindicated_ids=facts.contraindicated_ids if facts else frozenset(),
    )
    if patient_id is None:
        checked = [p for p in checked if p.code not in ("consultation_required", "contraindicated")]
    problems += [p for p in checked if p not in problems]
    return Proposal(planned, problems)


def session_alternatives(
    actor: Actor | None, treatment: Treatment, sessions: Sequence[tuple[datetime, int]], index: int,
    *, patient_id: int | None, now: datetime | None = None,
) -> list[Slot]:
    """Free times for session ``index`` that keep it inside its window after the previous one."""
    spec = schedules.treatment_spec(treatment)
    target, low, high = spacing(spec.protocol)
    tz = get_settings().timezone
    current = local_date(sessions[index][0], tz)
    if index == 0:
        first_day, last_day = current - timedelta(days=7), current + timedelta(days=7)
    else:
        previous = local_date(sessions[index - 1][0], tz)
        first_day, last_day = previous + timedelta(days=low), previous + timedelta(days=high)
    first_day = max(first_day, local_date(now or utcnow(), tz))
    if last_day < first_day:
        return []
    context = load_context(local_day_bounds(first_day, tz).start, local_day_bounds(last_day, tz).end,
                           treatment_id=treatment.id)
    others = [s for i, s in enumerate(sessions) if i != index]
    slots = free_slots(spec, context.practitioner_list, context.room_list, context.booked, context.policy,
                       first_day, last_day, now or utcnow(), patient_id=patient_id, respect_prep=index == 0)
    return [s for s in slots if not any(abs((s.start - o[0]).total_seconds()) < 60 for o in others)]


def reschedule_options(actor: Actor, appointment_id: int, *, now: datetime | None = None) -> list[Slot]:
    """Times a booked appointment can move to that keep its series valid (its neighbours' windows)."""
    now = now or utcnow()
    appointment = load_appointment_for(actor, appointment_id)
    treatment = appointment.treatment
    spec = schedules.treatment_spec(treatment)
    tz = get_settings().timezone
    today = local_date(now, tz)
    current = local_date(appointment.start_at, tz)
    first_day, last_day = current - timedelta(days=14), current + timedelta(days=14)
    if appointment.series is not None:
        _, low, high = spacing(spec.protocol)
        active = [a for a in appointment.series.appointments if a.id != appointment.id
                  and a.status in ("booked", "checked_in", "completed")]
        before = [a for a in active if (a.series_index or 0) < (appointment.series_index or 0)]
        after = [a for a in active if (a.series_index or 0) > (appointment.series_index or 0)]
        if before:
            prev = local_date(before[-1].start_at, tz)
            first_day, last_day = prev + timedelta(days=low), prev + timedelta(days=high)
        if after:
            nxt = local_date(after[0].start_at, tz)
            first_day = max(first_day, nxt - timedelta(days=high))
            last_day = min(last_day, nxt - timedelta(days=low))
    first_day = max(first_day, today)
    if last_day < first_day:
        return []
    context = load_context(local_day_bounds(first_day, tz).start, local_day_bounds(last_day, tz).end,
                           treatment_id=treatment.id)
    booked = [b for b in context.booked if b.appointment_id != appointment.id]
    slots = free_slots(spec, context.practitioner_list, context.room_list, booked, context.policy,
                       first_day, last_day, now, patient_id=appointment.patient_id, respect_prep=True)
    facts = patient_facts(appointment.patient_id, treatment, ignore_ids=frozenset({appointment.id}))
    good = []
    for slot in slots:
        if slot.start == appointment.start_at:
            continue
        problems = check_booking(
            spec, [ProposedSession(slot.start, slot.practitioner_id, slot.room_id, appointment.series_index)],
            patient_id=appointment.patient_id, practitioners=context.practitioners, rooms=context.rooms,
            booked=booked, policy=context.policy, now=now, consultation_starts=facts.consultation_starts,
            contraindicated_ids=facts.contraindicated_ids, ignore_ids=frozenset({appointment.id}),
        )
        if appointment.series_index not in (None, 0):
            problems = [p for p in problems if p.code != "consultation_required"]
        if not problems:
            good.append(slot)
    return good
