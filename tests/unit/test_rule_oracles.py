"""The booking check as the oracle for the free-time search and the series planner.

One rule book: every slot ``free_slots`` offers and every plan ``plan_series`` calls clean must
pass ``check_booking`` with the same inputs, and every start or series ``check_booking`` accepts
must be found by them. The clinics are random and small: 1-3 practitioners with weekly hours on
a coarse slot grid, breaks, time off and days off, 0-2 rooms with closures, clinic closures, a
diary of several patients on several treatments (two of them on the face), buffers, aftercare up
to 720 hours, series intervals up to 90 days, prep, notice, horizon, consultations and
contraindications, and a random ``now``.

Bounds that keep the exhaustive search exact and quick: durations up to 120 minutes, buffers up
to 30 minutes and working hours inside 08:00-20:00, so a session never meets one on another
day except through aftercare; intervals are at least one day, as the admin form requires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import ceil

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from scheduling_factories import (
    CONSULTATION_ID,
    PATIENT_ID,
    TREATMENT_ID,
    TZ,
    local,
    make_booked,
    make_booked_session,
    make_policy,
    make_practitioner,
    make_prep,
    make_room,
    make_series_protocol,
    make_treatment,
    week,
)

from booking.scheduling import (
    BookedAppointment,
    ClinicPolicy,
    DateException,
    Interval,
    PractitionerSchedule,
    Problem,
    ProposedSession,
    Protocol,
    RoomSchedule,
    SeriesPlan,
    Slot,
    TreatmentSpec,
    check_booking,
    free_slots,
    local_to_utc,
    plan_series,
    to_local,
)
from booking.scheduling.clock import day_periods

OTHER_FACE_ID = 11  # another treatment on the face: aftercare meets the treatment's
BODY_ID = 12
OTHER_PATIENT = 200
FIRST_DAY = date(2026, 3, 2)  # a Monday; drawn first days run past 29 March (spring forward)
CONSULTATION_REQUIRED = "consultation_required"

# Fixed examples (derandomize) so CI sees the same clinics on every run; nothing is stored.
ORACLE_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# Every length up to the form's 720 hours, the common ones more often.
AFTERCARE = st.sampled_from([0, 0, 24, 48, 72, 96, 240, 720]) | st.integers(0, 720)
BUFFER = st.sampled_from([0, 15, 30])
DURATION = st.sampled_from([60, 30, 90, 120])
FIXED_HORIZONS = st.sampled_from([400, 120, 45, 7])


@dataclass(frozen=True)
class Clinic:
    """A random clinic, one patient's record, a series to plan and days to search."""

    treatment: TreatmentSpec
    practitioners: tuple[PractitionerSchedule, ...]
    rooms: tuple[RoomSchedule, ...]
    booked: tuple[BookedAppointment, ...]
    policy: ClinicPolicy
    now: datetime
    consultation_starts: tuple[datetime, ...]
    contraindicated_ids: frozenset[int]
    first_start: datetime
    practitioner_id: int | None
    first_day: date
    last_day: date


def at(minutes: int) -> time:
    """A wall-clock time from minutes after midnight."""
    return time(minutes // 60, minutes % 60)


def on(day: date, minutes: int) -> datetime:
    """The UTC moment of ``minutes`` after local midnight on ``day``."""
    return local_to_utc(day, at(minutes), TZ)


@st.composite
def clinics(draw, for_slots: bool = False) -> Clinic:
    """A small clinic with random rules; the diary crowds around the series' target dates.

    ``for_slots``: the diary, absences and closures crowd around the days free_slots searches
    instead, which are more often the first days bookable (where notice and prep cut in).

    Half the clinics are rough: they also get breaks, dates off, absences, room and clinic
    closures, fixed horizons, an unknown practitioner, no room, and consultations missing or
    out of date. The other half keep to weekly hours, the diary, buffers, aftercare, intervals,
    prep, notice, horizons and contraindications, so that a valid series exists often enough
    to test the planner's search.
    """
    rough = draw(st.booleans())

    def hostile(strategy, calm):
        """``strategy`` in a rough clinic, else ``calm``."""
        return draw(strategy) if rough else calm

    step = draw(st.sampled_from([60, 120, 90]))
    first_day = FIRST_DAY + timedelta(days=draw(st.integers(0, 42)))
    sessions = draw(st.integers(2, 4))
    low = draw(st.integers(1, 14) | st.integers(1, 90))
    target = min(90, low + draw(st.integers(0, 3)))
    high = min(90, target + draw(st.integers(0, 3)))
    needs_consultation = draw(st.booleans())
    consultation_gap = draw(st.integers(0, 14))
    protocol = make_series_protocol(
        sessions=sessions,
        interval_min_days=low,
        interval_target_days=target,
        interval_max_days=high,
        consultation_treatment_id=CONSULTATION_ID if needs_consultation else None,
        consultation_min_days_before=consultation_gap,
        consultation_valid_days=draw(st.sampled_from([365, 90, 30])),
        aftercare_hours=draw(AFTERCARE),
        prep=tuple(
            make_prep(lead_hours=hours)
            for hours in draw(st.lists(st.sampled_from([0, 24, 72, 168, 240]), max_size=2))
        ),
    )
    treatment = make_treatment(
        body_area=draw(st.sampled_from(["face", "scalp", None])),
        duration_minutes=draw(DURATION),
        buffer_before_minutes=draw(BUFFER),
        buffer_after_minutes=draw(BUFFER),
        needs_room=draw(st.booleans()),
        protocol=protocol,
    )

    # Rough clinics plan from a first day that may be past, too soon or inside the prep time.
    ahead = draw(st.integers(0, 20) if rough else st.integers(10, 30))
    today = first_day - timedelta(days=ahead)
    notice = draw(st.sampled_from([0, 24, 2, 48]))
    lead = max(notice, protocol.longest_prep_hours)
    # free_slots searches near a target, or from the day notice and prep first leave open
    # (``now`` is at most 19:45 and ``lead`` is whole days or 2 hours, so that is this day).
    if draw(st.booleans()):
        search_from = first_day + timedelta(days=draw(st.integers(0, sessions - 1)) * target)
    else:
        search_from = today + timedelta(days=lead // 24 - draw(st.integers(0, 1)))
    search_days = draw(st.integers(0, 3))
    if for_slots:
        focus = [search_from + timedelta(days=n) for n in range(search_days + 1)]
    else:
        focus = [first_day + timedelta(days=k * target) for k in range(sessions)]

    def near_day() -> date:
        """A day around one of the focus days."""
        jitter = st.integers(-2, 1) if for_slots else st.integers(-3, 3)
        return draw(st.sampled_from(focus)) + timedelta(days=draw(jitter))

    def moment(day: date | None = None) -> datetime:
        """A half-hour mark between 08:00 and 19:30 (on ``day``, else near a focus day)."""
        return on(day or near_day(), 30 * draw(st.integers(16, 39)))

    def spans(most_hours: int) -> tuple[Interval, ...]:
        """Closures or absences of up to ``most_hours`` (in rough clinics only)."""
        found = []
        for _ in range(hostile(st.integers(0, 1), 0)):
            start = moment()
            found.append(Interval(start, start + timedelta(hours=draw(st.integers(1, most_hours)))))
        return tuple(found)

    practitioners, shifts = [], []
    for practitioner_id in range(1, draw(st.integers(1, 3)) + 1):
        begin = step * draw(st.integers(ceil(8 * 60 / step), 12 * 60 // step))
        length = draw(st.integers(1, 4))  # grid steps; the day ends by 20:00
        days_off = draw(st.sets(st.integers(0, 6), max_size=3))
        weekdays = tuple(d for d in range(7) if d not in days_off)
        breaks = ()
        if length > 1 and hostile(st.booleans(), False):
            pause = begin + step * draw(st.integers(1, length - 1))
            breaks = week(at(pause), at(pause + step), weekdays)
        gives = {OTHER_FACE_ID, CONSULTATION_ID}
        if practitioner_id == 1 or draw(st.sampled_from([True, True, False])):
            gives.add(TREATMENT_ID)
        practitioners.append(
            make_practitioner(
                practitioner_id=practitioner_id,
                treatment_ids=frozenset(gives),
                hours=week(at(begin), at(begin + step * length), weekdays),
                breaks=breaks,
                exceptions=tuple(
                    DateException(near_day()) for _ in range(hostile(st.integers(0, 1), 0))
                ),
                time_off=spans(72),
            )
        )
        shifts.append((begin, length, weekdays))
    # Often a time that puts the end of notice and prep inside someone's hours.
    minutes = 15 * draw(st.integers(6 * 4, 19 * 4 + 3))
    if draw(st.booleans()):
        begin, length, _ = shifts[draw(st.integers(0, len(shifts) - 1))]
        inside = begin - lead % 24 * 60 + 15 * draw(st.integers(-4, length * step // 15))
        minutes = min(max(inside, 6 * 60), 19 * 60 + 45)
    now = on(today, minutes)
    rooms = []
    for room_id in range(1, draw(st.integers(hostile(st.sampled_from([0, 1]), 1), 2)) + 1):
        serves = {OTHER_FACE_ID}
        if room_id == 1 or draw(st.booleans()):
            serves.add(TREATMENT_ID)
        rooms.append(
            make_room(room_id=room_id, treatment_ids=frozenset(serves), closures=spans(48))
        )

    catalogue = [
        (TREATMENT_ID, treatment.body_area, "treatment"),
        (OTHER_FACE_ID, "face", "treatment"),
        (BODY_ID, "body", "treatment"),
        (CONSULTATION_ID, None, "consultation"),
    ]
    booked = []
    for _ in range(draw(st.integers(0, 10))):
        treatment_id, area, kind = draw(st.sampled_from(catalogue))
        start = moment()
        booked.append(
            make_booked(
                appointment_id=len(booked) + 1,
                patient_id=draw(st.sampled_from([PATIENT_ID, OTHER_PATIENT])),
                practitioner_id=draw(st.integers(1, 3)),
                room_id=draw(st.sampled_from([None, 1, 2])),
                treatment_id=treatment_id,
                body_area=area,
                kind=kind,
                start=start,
                end=start + timedelta(minutes=draw(DURATION)),
                buffer_before_minutes=draw(BUFFER),
                buffer_after_minutes=draw(BUFFER),
                aftercare_hours=0 if kind == "consultation" else draw(AFTERCARE),
            )
        )
    consultation_starts = []
    # A treatment that needs a consultation gets one in a calm clinic; maybe none in a rough one.
    fewest = 1 if needs_consultation and not rough else 0
    for _ in range(draw(st.integers(fewest, 2))):
        # Far enough before the first day and still valid, or (rough) anywhere around it.
        valid = st.integers(consultation_gap, consultation_gap + 30)
        before = draw(st.integers(-3, 120) if rough else valid)
        start = moment(first_day - timedelta(days=before))
        consultation_starts.append(start)
        booked.append(
            make_booked(
                appointment_id=len(booked) + 1,
                patient_id=PATIENT_ID,
                practitioner_id=draw(st.integers(1, 3)),
                room_id=None,
                treatment_id=CONSULTATION_ID,
                body_area=None,
                kind="consultation",
                start=start,
                end=start + timedelta(minutes=30),
            )
        )

    # A horizon that may cut through the last session's window: only a series kept short of
    # the targets fits then.
    through = st.integers(ahead + (sessions - 1) * low, ahead + (sessions - 1) * high)
    policy = make_policy(
        slot_step_minutes=step,
        min_notice_hours=notice,
        horizon_days=draw(through | (FIXED_HORIZONS if rough else st.just(400))),
        closures=spans(30),
    )
    # A grid start inside one practitioner's weekly hours, on their first working weekday
    # from the first day (in rough clinics breaks, absences and closures may be in the way).
    begin, length, weekdays = shifts[draw(st.integers(0, len(shifts) - 1))]
    day = next(
        first_day + timedelta(days=n)
        for n in range(7)
        if (first_day.weekday() + n) % 7 in weekdays
    )
    first_start = on(day, begin + step * draw(st.integers(0, length - 1)))
    # Practitioner 4 never exists.
    asked = [None, None, None, *range(1, len(shifts) + 1)] + ([4] if rough else [])
    contraindicated = draw(st.sampled_from([False] * 5 + [True]))
    return Clinic(
        treatment=treatment,
        practitioners=tuple(practitioners),
        rooms=tuple(rooms),
        booked=tuple(booked),
        policy=policy,
        now=now,
        consultation_starts=tuple(consultation_starts),
        contraindicated_ids=frozenset({TREATMENT_ID}) if contraindicated else frozenset(),
        first_start=first_start,
        practitioner_id=draw(st.sampled_from(asked)),
        first_day=search_from,
        last_day=search_from + timedelta(days=search_days),
    )


def wall(moment: datetime) -> str:
    """A moment on the clinic's wall clock, e.g. ``Mon 02 Mar 2026 10:00``."""
    return to_local(moment, TZ).strftime("%a %d %b %Y %H:%M")


def span_text(spans) -> str:
    """Intervals on the wall clock."""
    return ", ".join(f"{wall(i.start)} - {wall(i.end)}" for i in spans) or "-"


def describe(c: Clinic) -> str:
    """The clinic in a few lines of wall-clock text, for the report of a failing example."""
    t, p = c.treatment, c.treatment.protocol
    lines = [
        f"treatment {t.treatment_id}: {t.body_area} {t.duration_minutes} min, buffers "
        f"{t.buffer_before_minutes}/{t.buffer_after_minutes}, needs room {t.needs_room}; "
        f"{p.sessions} sessions every {p.interval_target_days} days "
        f"[{p.interval_min_days}..{p.interval_max_days}], aftercare {p.aftercare_hours} h, "
        f"prep {[s.lead_hours for s in p.prep]} h, consultation "
        + (
            f"{p.consultation_min_days_before}+ days before, valid {p.consultation_valid_days}"
            if p.consultation_treatment_id
            else "not needed"
        ),
        f"policy: step {c.policy.slot_step_minutes} min, notice {c.policy.min_notice_hours} h, "
        f"horizon {c.policy.horizon_days} days, closed {span_text(c.policy.closures)}",
        f"now {wall(c.now)}; first start {wall(c.first_start)} with practitioner "
        f"{c.practitioner_id}; search days {c.first_day}..{c.last_day}",
        f"consultations {[wall(x) for x in c.consultation_starts]}, contraindicated "
        f"{sorted(c.contraindicated_ids)}",
    ]
    for person in c.practitioners:
        hours = sorted({f"{h.start:%H:%M}-{h.end:%H:%M}" for h in person.hours})
        breaks = sorted({f"{b.start:%H:%M}-{b.end:%H:%M}" for b in person.breaks})
        lines.append(
            f"practitioner {person.practitioner_id} gives {sorted(person.treatment_ids)}: "
            f"weekdays {[h.weekday for h in person.hours]} {hours}, breaks {breaks}, dates off "
            f"{[str(e.day) for e in person.exceptions]}, away {span_text(person.time_off)}"
        )
    for room in c.rooms:
        lines.append(
            f"room {room.room_id} serves {sorted(room.treatment_ids)}, closed "
            f"{span_text(room.closures)}"
        )
    for a in c.booked:
        lines.append(
            f"booked #{a.appointment_id}: patient {a.patient_id}, practitioner "
            f"{a.practitioner_id}, room {a.room_id}, treatment {a.treatment_id} ({a.body_area}) "
            f"{wall(a.start)} - {wall(a.end)}, buffers {a.buffer_before_minutes}/"
            f"{a.buffer_after_minutes}, aftercare {a.aftercare_hours} h"
        )
    return "\n".join(lines)


def plan_text(plan: SeriesPlan) -> str:
    """The planner's sessions and problems on the wall clock."""
    sessions = [
        f"session {s.index}: {wall(s.start)} practitioner {s.practitioner_id} room {s.room_id}"
        + ("" if s.placed else " (not placed)")
        for s in plan.sessions
    ]
    problems = [f"{p.code} (session {p.session_index}): {p.message}" for p in plan.problems]
    return "\n".join(sessions + problems)


def series_text(series: Sequence[ProposedSession]) -> str:
    """A proposed series on the wall clock."""
    return "; ".join(
        f"{wall(s.start)} practitioner {s.practitioner_id} room {s.room_id}" for s in series
    )


def check(
    c: Clinic,
    sessions: Sequence[ProposedSession],
    *,
    booked: Sequence[BookedAppointment] | None = None,
    **extra,
) -> list[Problem]:
    """check_booking for the patient with the clinic's inputs."""
    return check_booking(
        c.treatment,
        sessions,
        patient_id=PATIENT_ID,
        practitioners={p.practitioner_id: p for p in c.practitioners},
        rooms={r.room_id: r for r in c.rooms},
        booked=c.booked if booked is None else booked,
        policy=c.policy,
        now=c.now,
        **extra,
    )


def record(c: Clinic) -> dict:
    """The patient's record as both the check and the planner take it."""
    return dict(
        consultation_starts=c.consultation_starts, contraindicated_ids=c.contraindicated_ids
    )


def single_problems(c: Clinic, start: datetime, practitioner_id: int, room_id: int | None):
    """What check_booking says of one appointment, given what free_slots is given.

    free_slots is told nothing of the patient's consultations or intake, so the check gets no
    consultation starts and no contraindications, and the one rule that cannot hold without
    them (consultation first) is left to the planner properties.
    """
    problems = check(c, [ProposedSession(start, practitioner_id, room_id, None)])
    return [p for p in problems if p.code != CONSULTATION_REQUIRED]


def offered(c: Clinic) -> list[Slot]:
    """free_slots for the patient over the clinic's search days."""
    return free_slots(
        c.treatment,
        c.practitioners,
        c.rooms,
        c.booked,
        c.policy,
        c.first_day,
        c.last_day,
        c.now,
        patient_id=PATIENT_ID,
    )


def planned(c: Clinic) -> SeriesPlan:
    """plan_series for the patient from the asked first start."""
    return plan_series(
        c.treatment,
        c.first_start,
        c.practitioners,
        c.rooms,
        c.booked,
        c.policy,
        c.now,
        practitioner_id=c.practitioner_id,
        patient_id=PATIENT_ID,
        **record(c),
    )


def qualified(c: Clinic) -> list[int]:
    """Ids of the practitioners who give the treatment."""
    return [p.practitioner_id for p in c.practitioners if TREATMENT_ID in p.treatment_ids]


def room_choices(c: Clinic) -> list[int | None]:
    """The rooms a session may take: the serving ones, or none when it needs none."""
    if not c.treatment.needs_room:
        return [None]
    return [r.room_id for r in c.rooms if TREATMENT_ID in r.treatment_ids] or [None]


def grid_starts(c: Clinic, day: date) -> list[datetime]:
    """Starts on the slot grid inside ``day``'s working day (any qualified practitioner's).

    From the earliest period start to the latest period end; hours sit on the grid, so
    every practitioner's grid is this one.
    """
    people = [p for p in c.practitioners if p.practitioner_id in qualified(c)]
    periods = [period for p in people for period in day_periods(p, day, TZ)]
    if not periods:
        return []
    step = timedelta(minutes=c.policy.slot_step_minutes)
    duration = timedelta(minutes=c.treatment.duration_minutes)
    start, high = min(p.start for p in periods), max(p.end for p in periods)
    starts = []
    while start + duration <= high:
        starts.append(start)
        start += step
    return starts


def days(first: date, last: date) -> list[date]:
    """Local days ``first..last``."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def local_day(moment: datetime) -> date:
    """The clinic's date of a moment."""
    return to_local(moment, TZ).date()


def exhaustive_series(c: Clinic) -> tuple[ProposedSession, ...] | None:
    """A series check_booking accepts as a whole, by depth-first search, or None.

    Session 0 at the asked first start (with the asked practitioner, if any), every later one
    at any grid start ``[min, max]`` days after the one before, with any qualified practitioner
    and room. A prefix check_booking rejects is not extended.

    Whether a valid prefix can be completed depends only on its length and its last start:
    sessions are at least a day apart and stay inside one local day, so a later session can
    meet an earlier one only through aftercare, and then it meets every session in between too
    (which the prefix check already rejected). That makes ``(length, last start)`` an exact
    memo key, and a suffix found once fits every valid prefix ending there.
    """
    protocol = c.treatment.protocol
    low, high = protocol.interval_min_days, protocol.interval_max_days
    extra = record(c)
    rooms = room_choices(c)
    people = qualified(c)
    memo: dict[tuple[int, datetime], tuple[ProposedSession, ...] | None] = {}
    grids: dict[date, list[datetime]] = {}

    def first_valid(prefix, starts, practitioner_ids):
        """Each start that some practitioner and room make valid after ``prefix``, once."""
        index = len(prefix)
        for start in starts:
            for practitioner_id in practitioner_ids:
                for room_id in rooms:
                    session = ProposedSession(start, practitioner_id, room_id, index)
                    if not check(c, [*prefix, session], **extra):
                        yield session
                        break
                else:
                    continue
                break

    def complete(prefix: tuple[ProposedSession, ...]) -> tuple[ProposedSession, ...] | None:
        """The rest of a series after the valid ``prefix``, or None."""
        if len(prefix) == protocol.sessions:
            return ()
        key = (len(prefix), prefix[-1].start)
        if key not in memo:
            memo[key] = None
            previous = local_day(prefix[-1].start)
            starts = [
                start
                for day in days(previous + timedelta(days=low), previous + timedelta(days=high))
                for start in grids.setdefault(day, grid_starts(c, day))
            ]
            for session in first_valid(prefix, starts, people):
                rest = complete((*prefix, session))
                if rest is not None:
                    memo[key] = (session, *rest)
                    break
        return memo[key]

    asked = [c.practitioner_id] if c.practitioner_id is not None else people
    for first in first_valid((), [c.first_start], asked):
        rest = complete((first,))
        if rest is not None:
            series = (first, *rest)
            assert check(c, series, **extra) == [], "the memo of the search is not exact"
            return series
    return None


def is_clean(plan: SeriesPlan) -> bool:
    """The planner says every session is placed and nothing is wrong."""
    return plan.ok and all(s.placed for s in plan.sessions)


def as_proposed(plan: SeriesPlan) -> list[ProposedSession]:
    """The plan's sessions as a booking request."""
    return [ProposedSession(s.start, s.practitioner_id, s.room_id, s.index) for s in plan.sessions]


@ORACLE_SETTINGS
@given(clinics(for_slots=True))
def test_every_free_slot_passes_the_booking_check(c):
    """Soundness of the free-time search: what it offers, the booking check accepts."""
    note(describe(c))
    slots = offered(c)
    event("some slots offered" if slots else "no slot offered")
    for slot in slots:
        assert single_problems(c, slot.start, slot.practitioner_id, slot.room_id) == [], slot


@ORACLE_SETTINGS
@given(clinics(for_slots=True))
def test_every_grid_start_the_booking_check_accepts_is_offered(c):
    """Completeness: a grid start the check accepts (in some room) is offered."""
    note(describe(c))
    found = {(s.start, s.practitioner_id) for s in offered(c)}
    accepted = {
        (start, practitioner_id)
        for day in days(c.first_day, c.last_day)
        for start in grid_starts(c, day)
        for practitioner_id in qualified(c)
        if any(not single_problems(c, start, practitioner_id, room) for room in room_choices(c))
    }
    event("some starts accepted" if accepted else "no start accepted")
    assert sorted(accepted - found) == []


@ORACLE_SETTINGS
@given(clinics())
def test_a_clean_plan_passes_the_booking_check_session_by_session_and_whole(c):
    """Soundness of the planner: a clean plan books, one session after another or at once."""
    note(describe(c))
    plan = planned(c)
    note(plan_text(plan))
    event("clean plan" if is_clean(plan) else "plan with problems")
    if not is_clean(plan):
        return
    sessions = as_proposed(plan)
    assert check(c, sessions, **record(c)) == []
    held = list(c.booked)
    previous = None
    for session in sessions:
        alone = check(c, [session], booked=held, neighbours_before=previous, **record(c))
        assert alone == [], session
        held.append(
            make_booked_session(
                c.treatment,
                session.start,
                appointment_id=-1 - session.index,
                practitioner_id=session.practitioner_id,
                room_id=session.room_id,
            )
        )
        previous = session.start


@ORACLE_SETTINGS
@given(clinics())
def test_the_planner_finds_a_valid_series_whenever_one_exists(c):
    """Completeness: the planner misses no valid series, and names a session when none exists."""
    note(describe(c))
    series = exhaustive_series(c)
    note(f"exhaustive search: {series_text(series) if series else 'no valid series'}")
    plan = planned(c)
    note(plan_text(plan))
    event("a valid series exists" if series else "no valid series")
    if series is not None:
        assert is_clean(plan), (series, plan.problems)
    else:
        assert not plan.ok
        sessions = range(c.treatment.protocol.sessions)
        assert any(p.session_index in sessions for p in plan.problems), plan.problems


def test_the_planner_keeps_a_session_out_of_another_face_treatments_aftercare():
    """Issue 11, failure 2: session 2's target date is one hour after a face treatment."""
    treatment = make_treatment(
        protocol=Protocol(
            sessions=2, interval_min_days=5, interval_target_days=7, interval_max_days=10
        )
    )
    practitioners = [make_practitioner(), make_practitioner(practitioner_id=2)]
    rooms = [make_room()]
    first_start = local(2026, 3, 9, 10)  # session 2 aims at Monday 16 March, 10:00
    peel = make_booked(
        patient_id=PATIENT_ID,
        practitioner_id=2,
        room_id=None,
        treatment_id=OTHER_FACE_ID,
        body_area="face",
        start=local(2026, 3, 16, 9),
        end=local(2026, 3, 16, 10),
        aftercare_hours=72,
    )
    policy = make_policy()
    now = local(2026, 3, 2, 8)

    def problems(sessions):
        """check_booking of ``sessions`` in this clinic."""
        return check_booking(
            treatment,
            sessions,
            patient_id=PATIENT_ID,
            practitioners={p.practitioner_id: p for p in practitioners},
            rooms={1: rooms[0]},
            booked=[peel],
            policy=policy,
            now=now,
        )

    # The target itself is inside the aftercare, and 15 March is free and inside the window.
    first = ProposedSession(first_start, 1, 1, 0)
    on_target = ProposedSession(local(2026, 3, 16, 10), 1, 1, 1)
    assert [p.code for p in problems([first, on_target])] == ["aftercare_conflict"]
    assert problems([first, ProposedSession(local(2026, 3, 15, 10), 1, 1, 1)]) == []

    plan = plan_series(
        treatment, first_start, practitioners, rooms, [peel], policy, now, patient_id=PATIENT_ID
    )
    assert is_clean(plan), plan.problems
    second = plan.sessions[1]
    assert not local(2026, 3, 16, 10) <= second.start < local(2026, 3, 19, 10), second
    assert problems(as_proposed(plan)) == []
