"""The rules repository: the clinic's scheduling rules as plain values, loaded once per process
and rules version, and the one place the app caches anything worked out from them.

Practitioners' hours, breaks, exceptions and time off, rooms and their closures, treatments
with their protocols, and clinic closures change a few times a week, yet every availability
answer, plan and booking needs them: loading them through the ORM was about half of each of
those (eleven round trips; docs/PERFORMANCE.md). So each process keeps the last set it loaded,
labelled with ``clinic_settings.rules_version``, and reuses it while the stamp is unchanged.
Answers worked out from the rules (availability) are kept in memos made here
(``answer_memo``), under keys that include the stamp.

Invalidation is explicit, in two ways. ``renew_stamp`` gives the clinic a new stamp in the
current transaction, so every process drops what it keeps for the old one when it next reads
the stamp, exactly when it can see the new rules; ``install`` (called by ``create_app``) makes
every flush that writes a rule row call it. The settings row is read fresh by every request
anyway (``get_settings``), so the check costs nothing extra. The stamp is random, never a
counter: a database that is emptied and seeded again can never hand out a stamp an older cache
entry still carries. ``forget`` drops what this process keeps (tests, or rules changed behind
the ORM's back).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain

from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload

from booking.extensions import db
from booking.models import (
    AftercareRule,
    Break,
    ClinicClosure,
    ClinicSettings,
    DateException,
    Practitioner,
    PrepRule,
    Protocol,
    Room,
    RoomClosure,
    TimeOff,
    Treatment,
    WorkingHours,
)
from booking.models.clinic import new_rules_version
from booking.scheduling import model as sm
from booking.services import schedules
from booking.services.clinic import get_settings
from booking.services.memo import Memo

# Writing any of these changes what the scheduling rules see.
RULE_MODELS = (
    Practitioner, WorkingHours, Break, DateException, TimeOff,
    Room, RoomClosure, ClinicClosure, Treatment, Protocol, PrepRule,
    AftercareRule,  # not a scheduling rule, but patient feeds show it: their version follows this stamp
)


@dataclass(frozen=True)
class ClinicRules:
    """Everything about the clinic the rules need that is not a booking or the settings row.

    Schedules keep all their time off and rooms all their closures; ``practitioners_for``
    and ``closures_between`` cut them to the asked time.
    """

    practitioners: tuple[sm.PractitionerSchedule, ...]  # active ones, id order
    rooms: tuple[sm.RoomSchedule, ...]  # active ones, id order
    treatments: dict[int, sm.TreatmentSpec]  # every treatment, by id
    closures: tuple[sm.Interval, ...]  # clinic closures, in time order
    active_slugs: dict[str, int]  # bookable treatments: slug -> id

    def practitioners_for(
        self, start: datetime, end: datetime, *, treatment_id: int | None = None,
        practitioner_ids: Iterable[int] | None = None,
    ) -> dict[int, sm.PractitionerSchedule]:
        """Active practitioners (those named, those giving the treatment) with their time off
        cut to ``[start, end)``."""
        wanted = set(practitioner_ids) if practitioner_ids is not None else None
        found = {}
        for p in self.practitioners:
            if wanted is not None and p.practitioner_id not in wanted:
                continue
            if treatment_id is not None and treatment_id not in p.treatment_ids:
                continue
            time_off = tuple(t for t in p.time_off if t.end > start and t.start < end)
            found[p.practitioner_id] = p if len(time_off) == len(p.time_off) else replace(p, time_off=time_off)
        return found

    def rooms_for(self, *, treatment_id: int | None = None) -> dict[int, sm.RoomSchedule]:
        """Active rooms (those serving the treatment)."""
        return {r.room_id: r for r in self.rooms if treatment_id is None or treatment_id in r.treatment_ids}

    def closures_between(self, start: datetime, end: datetime) -> tuple[sm.Interval, ...]:
        """Clinic closures touching ``[start, end)``."""
        return tuple(c for c in self.closures if c.end > start and c.start < end)


# The latest rules each database gave this process: {database URL: (stamp, rules)}.
_cache: dict[str, tuple[str, ClinicRules]] = {}
_cache_lock = threading.Lock()
# Every memo of answers worked out from the rules, so ``forget`` reaches them all.
_memos: list[Memo] = []


def answer_memo(size: int) -> Memo:
    """A memo of at most ``size`` answers worked out from the rules, emptied by ``forget``.
    Its keys must include the rules stamp (and whatever else the answer depends on)."""
    memo: Memo = Memo(size)
    _memos.append(memo)
    return memo


def forget() -> None:
    """Drop the rules and answers this process keeps; the next request loads them again."""
    with _cache_lock:
        _cache.clear()
    for memo in _memos:
        memo.clear()


def current_rules() -> ClinicRules:
    """The clinic's rules, from this process's cache when the stamp still matches."""
    version = get_settings().rules_version
    if version is None:  # no settings row yet: nothing to label a cache entry with
        return load_rules()
    key = str(db.session.get_bind().url)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    # Read after the stamp, so what is loaded is at least as new as the stamp it is kept under.
    rules = load_rules()
    with _cache_lock:
        _cache[key] = (version, rules)
    return rules


def install() -> None:
    """Renew the stamp on every flush, in any session, that writes a rule row (once per process;
    ``create_app`` calls it)."""
    if not event.contains(Session, "before_flush", _renew_on_rule_writes):
        event.listen(Session, "before_flush", _renew_on_rule_writes)


def renew_stamp(session: Session) -> None:
    """Give the clinic a new rules stamp in ``session``'s transaction: once it commits, every
    process drops the rules and answers it keeps for the old stamp."""
    settings = session.get(ClinicSettings, 1)
    if settings is not None:
        settings.rules_version = new_rules_version()


def _renew_on_rule_writes(session: Session, _context, _instances) -> None:
    """A flush that writes any rule row renews the stamp, in the same transaction."""
    changed = any(isinstance(obj, RULE_MODELS) for obj in chain(session.new, session.deleted)) or any(
        isinstance(obj, RULE_MODELS) and session.is_modified(obj) for obj in session.dirty
    )
    if changed:
        renew_stamp(session)


def load_rules() -> ClinicRules:
    """Read the rules from the database (a dozen small queries, once per stamp)."""
    practitioners = schedules.load_practitioners()
    rooms = schedules.load_rooms()
    treatments = db.session.scalars(
        select(Treatment).options(selectinload(Treatment.protocol).selectinload(Protocol.prep_rules))
    ).all()
    closures = db.session.scalars(select(ClinicClosure).order_by(ClinicClosure.start_at)).all()
    return ClinicRules(
        practitioners=tuple(schedules.practitioner_schedule(p) for p in practitioners),
        rooms=tuple(schedules.room_schedule(r) for r in rooms),
        treatments={t.id: schedules.treatment_spec(t) for t in treatments},
        closures=tuple(sm.Interval(c.start_at, c.end_at) for c in closures),
        active_slugs={t.slug: t.id for t in treatments if t.active},
    )
