"""Free slots the caller could book, and per-process memos of recent answers."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime
from typing import TypeVar

from flask_babel import gettext

from booking.extensions import db
from booking.models import Treatment
from booking.models.base import utcnow
from booking.scheduling import Slot, local_day_bounds
from booking.scheduling.availability import FreeStarts, Start, as_slots
from booking.scheduling.clock import ONE_DAY, local_date
from booking.scheduling.rulebook import consultations_allowed
from booking.services import rule_cache, schedules
from booking.services.actor import Actor
from booking.services.clinic import get_settings
from booking.services.errors import InvalidRequest
from booking.services.loading import load_context, load_treatment, patient_facts, reach_of
from booking.services.memo import Memo

MAX_DAYS = 62
T = TypeVar("T")


@dataclass(frozen=True)
class Availability:
    """The slots offered, and for which treatment (a patient with no consultation gets the
    consultation's slots first). ``key`` names everything the answer depends on when it may
    be reused (see ``answer_key``), else None.

    The search's own answer is ``starts`` (start tick, practitioner, room) and the length
    in ticks: writers that need no datetimes (the API's JSON) read those; ``slots`` makes
    the ``Slot`` values when asked.
    """

    treatment_slug: str
    starts: tuple[Start, ...]
    duration: int
    note: str | None = None
    key: Hashable | None = None

    @cached_property
    def slots(self) -> list[Slot]:
        """The free slots, in (start, practitioner) order."""
        return as_slots(self.starts, self.duration)


# Recent answers by key. Many visitors ask for the same treatment
# and month; an answer is reused only while its key, read afresh each time, is unchanged.
# A month for ten practitioners is about half a megabyte, and keys move on every minute, so a
# few entries are enough.
_answers: Memo[Availability] = rule_cache.answer_memo(16)
# Recent answers as written for a client (the API's JSON: thousands of slots take milliseconds
# to serialize), by (writer, key): the same key is the same answer, byte for byte.
_written: Memo = rule_cache.answer_memo(16)


@dataclass(frozen=True)
class BookingWindow:
    """The local days a visitor may pick from: from ``today`` to ``last_day``, the booking
    horizon (the free-time search itself leaves out times past the horizon)."""

    today: date
    last_day: date

    @property
    def first_month(self) -> date:
        """The first of the current month."""
        return self.today.replace(day=1)

    @property
    def last_month(self) -> date:
        """The first of the horizon's month."""
        return self.last_day.replace(day=1)

    def month(self, asked: date | None) -> date:
        """The first of ``asked``'s month brought inside the window (this month when not asked)."""
        wanted = asked.replace(day=1) if asked is not None else self.first_month
        return min(max(wanted, self.first_month), self.last_month)

    def day(self, asked: date | None) -> date | None:
        """``asked`` when a visitor may pick it (up to a day past the horizon), else None."""
        return asked if asked is not None and self.today <= asked <= self.last_day + ONE_DAY else None


def booking_window(now: datetime | None = None) -> BookingWindow:
    """Today on the clinic's wall clock to the booking horizon."""
    settings = get_settings()
    today = local_date(now or utcnow(), settings.timezone)
    return BookingWindow(today=today, last_day=today + settings.horizon_days * ONE_DAY)


def search_window(first_day: date, last_day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC span the search over local days ``first_day..last_day`` starts in: to the end of
    the next day, as a working period may run past midnight."""
    return local_day_bounds(first_day, tz).start, local_day_bounds(last_day + ONE_DAY, tz).end


def answer_key(
    actor: Actor | None, treatment_slug: str, first_day: date, last_day: date,
    practitioner_id: int | None, now: datetime,
) -> Hashable | None:
    """Everything an availability answer depends on, or None when it is not to be reused.

    The database, the settings the search reads, the rules stamp (schedules, rooms, treatments,
    closures), the treatment and window asked, the minute (notice and prep leads count from
    now; slots sit on whole minutes) and a fingerprint of the booked time the search reads.
    A patient's answer also depends on their consultations and health answers: not reused.
    """
    if actor is not None and actor.is_patient:
        return None
    rules = rule_cache.current_rules()
    treatment_id = rules.active_slugs.get(treatment_slug)
    if treatment_id is None:
        return None
    settings = get_settings()
    tz = settings.timezone
    start, end = search_window(first_day, last_day, tz)
    booked = schedules.booked_version(start, end, reach=reach_of(treatment_id, rules))
    return (
        str(db.session.get_bind().url), settings.rules_version, tz, settings.slot_step_minutes,
        settings.min_notice_hours, settings.horizon_days, treatment_id, first_day, last_day,
        practitioner_id, now.replace(second=0, microsecond=0), booked,
    )


def available_slots(
    actor: Actor | None,
    *,
    treatment_slug: str,
    first_day: date,
    last_day: date,
    practitioner_id: int | None = None,
    now: datetime | None = None,
    reuse: bool = True,
) -> Availability:
    """Free slots for ``treatment_slug`` between two local dates (inclusive).

    Slots that would break the prep window or minimum notice are not offered. A patient who
    has no valid consultation for a treatment that needs one sees the consultation's slots,
    and once one is booked, the treatment's slots start where the consultation rule allows.
    With ``reuse`` an answer whose ``answer_key`` is unchanged is taken from this process's
    memo instead of being worked out again.
    """
    if last_day < first_day:
        raise InvalidRequest(gettext("end is before start."), code="bad_range")
    if (last_day - first_day).days >= MAX_DAYS:
        raise InvalidRequest(gettext("Ask for at most %(num)d days at a time.", num=MAX_DAYS), code="range_too_long")
    now = now or utcnow()
    key = answer_key(actor, treatment_slug, first_day, last_day, practitioner_id, now) if reuse else None
    kept = _answers.get(key) if key is not None else None
    if kept is not None:
        return kept
    rules = rule_cache.current_rules()
    treatment_id = rules.active_slugs.get(treatment_slug)
    if treatment_id is None:
        load_treatment(treatment_slug)  # says there is no such treatment
    spec, slug, note = rules.treatments[treatment_id], treatment_slug, None
    patient_id = actor.user_id if actor is not None and actor.is_patient else None
    tz = get_settings().timezone
    # The first session of a series needs a valid consultation: a patient who has none is
    # shown the consultation's times, one who has one only the starts it allows.
    within = None
    if patient_id is not None and spec.protocol.consultation_treatment_id is not None:
        asked = load_treatment(treatment_slug)
        facts = patient_facts(patient_id, asked)
        consultation = rules.treatments.get(spec.protocol.consultation_treatment_id)
        if not facts.consultation_starts and consultation is not None:
            spec, slug = consultation, db.session.get(Treatment, consultation.treatment_id).slug
            note = gettext("%(treatment)s needs a consultation first; these are the consultation's free times.",
                           treatment=asked.name)
        else:
            within = consultations_allowed(spec.protocol, facts.consultation_starts, tz)
    start, end = search_window(first_day, last_day, tz)
    context = load_context(start, end, treatment_id=spec.treatment_id, patient_id=patient_id,
                           practitioner_ids=[practitioner_id] if practitioner_id is not None else None)
    practitioners = context.practitioner_list
    if practitioner_id is not None:
        practitioners = [p for p in practitioners if p.practitioner_id == practitioner_id]
    search = FreeStarts(spec, context.room_list, context.booked, context.policy, first_day, last_day, now,
                        patient_id=patient_id, within=within)
    answer = Availability(treatment_slug=slug, starts=tuple(search.starts(practitioners)),
                          duration=search.duration, note=note, key=key)
    if key is not None:
        _answers.put(key, answer)
    return answer


def written_available_slots(
    write: Callable[[Availability], T],
    actor: Actor | None,
    *,
    treatment_slug: str,
    first_day: date,
    last_day: date,
    practitioner_id: int | None = None,
    now: datetime | None = None,
    reuse: bool = True,
) -> T:
    """``available_slots`` as ``write`` writes it (the API's JSON body). With ``reuse`` the
    written answer is kept under its ``answer_key``, so asking again while nothing changed costs
    neither the search nor the writing. ``write`` is one function for the process's life (a
    module-level function), as answers are kept per writer."""
    now = now or utcnow()
    key = answer_key(actor, treatment_slug, first_day, last_day, practitioner_id, now) if reuse else None
    kept = _written.get((write, key)) if key is not None else None
    if kept is not None:
        return kept
    # The key was read first, so the answer worked out now is at least as new as it.
    written = write(available_slots(actor, treatment_slug=treatment_slug, first_day=first_day, last_day=last_day,
                                    practitioner_id=practitioner_id, now=now, reuse=False))
    if key is not None:
        _written.put((write, key), written)
    return written
