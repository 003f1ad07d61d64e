"""Rows to API shapes; every time in the clinic's offset."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from pydantic import TypeAdapter

from booking.models import Appointment, Series, Treatment
from booking.scheduling import Problem, Slot
from booking.scheduling.availability import Start
from booking.scheduling.clock import to_local
from booking.scheduling.timeline import from_ticks
from booking.i18n import translate
from booking.services.clinic import get_settings
from booking.web.api import schemas

_MOMENT = TypeAdapter(datetime)


def local(moment: datetime) -> datetime:
    """``moment`` in the clinic's time zone (so it carries the clinic's offset)."""
    return to_local(moment, get_settings().timezone)


def treatment(t: Treatment) -> schemas.TreatmentOut:
    """A treatment with its protocol."""
    p = t.protocol
    return schemas.TreatmentOut(
        slug=t.slug, name=t.name, kind=t.kind, duration_minutes=t.duration_minutes, body_area=t.body_area,
        protocol=schemas.ProtocolOut(
            sessions=p.sessions if p else 1,
            interval_days=schemas.IntervalDays(
                min=p.interval_min_days if p else None,
                target=p.interval_target_days if p else None,
                max=p.interval_max_days if p else None,
            ),
            requires_consultation=bool(p and p.consultation_treatment_id),
            aftercare_hours=p.aftercare_hours if p else 0,
            prep=[schemas.PrepOut(instruction=r.instruction, lead_hours=r.lead_hours)
                  for r in (p.prep_rules if p else [])],
        ),
    )


def appointment(a: Appointment) -> schemas.AppointmentOut:
    """An appointment as the API contract shows it."""
    return schemas.AppointmentOut(
        id=a.id, treatment=a.treatment.slug, patient_id=a.patient_id, practitioner_id=a.practitioner_id,
        room_id=a.room_id, start=local(a.start_at), end=local(a.end_at), status=a.status,
        series_id=a.series_id, series_index=a.series_index,
    )


def series(s: Series) -> schemas.SeriesOut:
    """A series with its appointments in order."""
    return schemas.SeriesOut(
        id=s.id, treatment=s.treatment.slug, patient_id=s.patient_id, status=s.status,
        appointments=[appointment(a) for a in s.appointments],
    )


def slot(s: Slot) -> schemas.SlotOut:
    """A free slot."""
    return schemas.SlotOut(start=local(s.start), end=local(s.end), practitioner_id=s.practitioner_id)


def availability_json(starts: Sequence[Start], duration: int, treatment_slug: str, note: str | None) -> str:
    """An availability answer (start tick, practitioner, room) as the JSON of
    ``schemas.AvailabilityOut``, written directly.

    An answer holds thousands of slots and validating each through the schema was most of
    the request's time. Practitioners share times, so each distinct moment is written once,
    by pydantic itself, so the text is what the schema would give.
    """
    tz = get_settings().timezone
    written: dict[int, str] = {}

    def at(tick: int) -> str:
        text = written.get(tick)
        if text is None:
            text = written[tick] = _MOMENT.dump_json(to_local(from_ticks(tick), tz)).decode()
        return text

    # Everything up to the practitioner is the same for every slot starting at one tick.
    heads: dict[int, str] = {}
    parts = []
    for tick, practitioner_id, _ in starts:
        head = heads.get(tick)
        if head is None:
            head = heads[tick] = f'{{"start":{at(tick)},"end":{at(tick + duration)},"practitioner_id":'
        parts.append(f"{head}{int(practitioner_id)}}}")
    items = ",".join(parts)
    return (f'{{"slots":[{items}],"treatment":{json.dumps(treatment_slug, ensure_ascii=False)},'
            f'"note":{json.dumps(note, ensure_ascii=False)}}}')


def problem(p: Problem) -> schemas.ProblemOut:
    """A rule problem."""
    return schemas.ProblemOut(code=p.code, message=translate(p.message), session_index=p.session_index)
