"""The waitlist (issue 15): the time from a cancellation to the first waitlist offer queued.

On a copy of the main database: 200 patients wait (most for times that do not fit, so the
single query and the cheap preference filter do their work), and for each measured run one
booked consultation a week or more ahead gets a request that only its own time fits; reception
cancels it (``changes.cancel``, the real use case) and the clock stops when the cancellation
has returned, by which point the freed time is held for that request and the offer mail is in
the outbox (checked). The figure is the whole cancellation, commit and offer included.

    python -m bench.waitlist          # on a copy of BENCH_DATABASE_URL (which must hold the clinic)
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall

from sqlalchemy import func, insert, select

from bench.database import clone_database, drop_database
from bench.figures import Figure, Results, percentile
from bench.generate import RECEPTIONIST, bench_app, today
from booking.extensions import db
from booking.models import Appointment, Intake, Offer, OutboxMessage, Treatment, User, WaitlistRequest
from booking.scheduling.clock import local_to_utc, to_local

WAITING = 200


def _setup(repeat: int, now: datetime) -> tuple[int, list[int]]:
    """The waiting crowd and ``repeat`` consultations to cancel; (receptionist id, appointment ids)."""
    rng = random.Random(15)
    consultation = db.session.scalar(select(Treatment).where(Treatment.slug == "consultation"))
    start = local_to_utc(today(now) + timedelta(days=7), wall(0), "Europe/Rome")
    targets = list(db.session.scalars(
        select(Appointment).where(Appointment.status == "booked", Appointment.treatment_id == consultation.id,
                                  Appointment.start_at >= start).order_by(Appointment.start_at).limit(repeat)))
    if len(targets) < repeat:
        raise RuntimeError(f"only {len(targets)} booked consultations ahead")
    first = db.session.scalar(select(func.max(User.id))) + 1
    db.session.execute(insert(User), [{"name": f"Waiting {n} Bench", "email": f"waiting{n}@bench.example",
                                       "role": "patient"} for n in range(WAITING + repeat)])
    patients = list(range(first, first + WAITING + repeat))
    db.session.add_all(Intake(patient_id=p, answers={}) for p in patients)
    practitioner_ids = sorted({a.practitioner_id for a in targets} | {1, 2, 3})
    created = datetime.now(UTC) - timedelta(days=30)
    # The crowd: older requests with preferences that leave the measured times out (another
    # practitioner, or a time of day before the clinic opens).
    for n, patient_id in enumerate(patients[:WAITING]):
        avoid = rng.random() < 0.5
        db.session.add(WaitlistRequest(
            patient_id=patient_id, treatment_id=consultation.id, status="waiting",
            practitioner_ids=[p for p in practitioner_ids if p not in {a.practitioner_id for a in targets}][:1]
            if avoid else [], weekdays=[], from_time=None if avoid else wall(7), to_time=None if avoid else wall(8),
            created_at=created + timedelta(minutes=n)))
    for target, patient_id in zip(targets, patients[WAITING:]):
        local = to_local(target.start_at, "Europe/Rome")
        db.session.add(WaitlistRequest(
            patient_id=patient_id, treatment_id=consultation.id, status="waiting",
            practitioner_ids=[target.practitioner_id], weekdays=[local.weekday()], from_time=local.time(),
            to_time=to_local(target.end_at, "Europe/Rome").time(), latest=local.date(),
            created_at=created + timedelta(days=1)))
    reception = db.session.scalar(select(User.id).where(User.email == RECEPTIONIST))
    db.session.commit()
    return reception, [a.id for a in targets]


def in_process(url: str, repeat: int, now: datetime) -> tuple[list[float], int]:
    """Seconds from calling the cancellation to its return with the offer queued; (timings, offers)."""
    from booking.services import changes, waitlist  # noqa: F401  (registers the waitlist's hooks)
    from booking.services.actor import Actor

    app = bench_app(url)
    with app.app_context():
        reception, targets = _setup(repeat, now)
        actor = Actor(reception, "receptionist")
        times = []
        for appointment_id in targets:
            started = time.perf_counter()
            changes.cancel(actor, appointment_id, reason="bench", override_reason="bench: a treatment may depend on it")
            times.append(time.perf_counter() - started)
        offers = db.session.scalar(select(func.count()).select_from(Offer).where(Offer.kind == "waitlist"))
        mails = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.kind == "offer.waitlist"))
        if offers < repeat or mails < repeat:
            raise RuntimeError(f"{repeat} cancellations made {offers} waitlist offers and {mails} mails")
        db.engine.dispose()
    return times, offers


def measure(results: Results, url: str, now: datetime, *, repeat: int, label: str) -> None:
    """On a copy of ``url``: cancellations, each freeing a time one waiting request fits."""
    copy = clone_database(url, "waitlist")
    try:
        times, offers = in_process(copy, repeat, now)
        name = f"cancellation to first waitlist offer queued ({WAITING} waiting, {label})"
        note = f"{offers} offers from {repeat} cancellations; includes the cancellation's own commit and mail"
        results.add(Figure("waitlist", f"{name}, in-process p50 of {repeat}",
                           percentile([t * 1000 for t in times], 50), note=note))
        results.add(Figure("waitlist", f"{name}, in-process p95", percentile([t * 1000 for t in times], 95)))
    finally:
        drop_database(copy)


def main() -> None:
    """Measure on a copy of the benchmark database as it is."""
    from bench.database import bench_url

    measure(Results(), bench_url(), datetime.now(UTC), repeat=10, label="as generated")


if __name__ == "__main__":
    main()
