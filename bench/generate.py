"""The benchmark clinic: P practitioners, R rooms, months of history and bookings ahead.

Appointments sit on a grid of hour cells (09-13 and 14-18 local, Monday to Friday, the
practitioners' working hours), so the data obeys the database's no-overlap rules by
construction: one appointment per practitioner per cell, at most one per room per cell (room
treatments last 30-45 minutes plus a 10-minute buffer, so they fit inside their hour) and
distinct patients within a cell. The bookings ahead fill a fixed share of the next weeks;
everything else is history, added further back as the table grows. So the appointments
inside an availability window stay the same while the table grows from 1k to 100k rows.

    python -m bench.generate --appointments 20000          # into BENCH_DATABASE_URL, reset first
"""

from __future__ import annotations

import argparse
import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, insert, select

from booking import create_app
from booking.demo import _seed_catalog  # the demo clinic's catalog: realistic protocols and prep rules
from booking.extensions import db
from booking.models import (
    Appointment,
    Break,
    ClinicSettings,
    Practitioner,
    Room,
    Treatment,
    User,
    WorkingHours,
)
from booking.scheduling.clock import local_to_utc, to_local

TIMEZONE = "Europe/Rome"
PASSWORD = "bench-password"
RECEPTIONIST = "reception@bench.example"
CELLS = (time(9), time(10), time(11), time(12), time(14), time(15), time(16), time(17))
HISTORY_FILL = 0.85
# Room treatments that fit an hour cell with their buffer (microneedling's 60 + 10 would not).
ROOM_TREATMENTS = ("mesotherapy-face", "mesotherapy-scalp", "mesotherapy-body", "polynucleotides-eyes")


@dataclass(frozen=True)
class Shape:
    """The size of the benchmark clinic."""

    practitioners: int = 10
    rooms: int = 5
    patients: int = 4000
    ahead_days: int = 35
    ahead_fill: float = 0.4


@dataclass(frozen=True)
class Clinic:
    """Ids of what the generator made, read back from the database."""

    practitioner_ids: list[int]
    room_ids: list[int]
    patient_ids: list[int]
    treatments: dict[str, Treatment]


def bench_app(url: str):
    """The app bound to a benchmark database (test settings: cheap hashing, no rate limits)."""
    return create_app("testing", SQLALCHEMY_DATABASE_URI=url)


def seed_clinic(shape: Shape) -> None:
    """Settings, the demo catalog, rooms, practitioners with hours, staff and patients."""
    settings = db.session.get(ClinicSettings, 1) or ClinicSettings(id=1)
    settings.name = "Bench Clinic"
    settings.timezone = TIMEZONE
    settings.horizon_days = 180
    settings.min_notice_hours = 24
    settings.cancel_cutoff_hours = 24
    settings.slot_step_minutes = 15
    db.session.add(settings)
    treatments = _seed_catalog()
    serving = [t for t in treatments.values() if t.kind == "treatment"]
    db.session.add_all(Room(name=f"Room {n + 1}", treatments=serving) for n in range(shape.rooms))
    receptionist = User(name="Rita Reception", email=RECEPTIONIST, role="receptionist")
    receptionist.set_password(PASSWORD)
    db.session.add(receptionist)
    for n in range(shape.practitioners):
        user = User(name=f"Dr Bench {n + 1}", email=f"practitioner{n + 1}@bench.example", role="practitioner")
        practitioner = Practitioner(user=user, treatments=list(treatments.values()))
        practitioner.hours = [WorkingHours(weekday=d, start_time=time(9), end_time=time(18)) for d in range(5)]
        practitioner.breaks = [Break(weekday=d, start_time=time(13), end_time=time(14)) for d in range(5)]
        db.session.add(practitioner)
    db.session.flush()
    db.session.execute(insert(User), [
        {"name": f"Patient {n + 1} Bench", "email": f"patient{n + 1}@bench.example", "role": "patient"}
        for n in range(shape.patients)
    ])
    db.session.commit()


def load_clinic() -> Clinic:
    """The ids the generator and the benchmarks work with."""
    return Clinic(
        practitioner_ids=list(db.session.scalars(select(Practitioner.id).order_by(Practitioner.id))),
        room_ids=list(db.session.scalars(select(Room.id).order_by(Room.id))),
        patient_ids=list(db.session.scalars(select(User.id).where(User.role == "patient").order_by(User.id))),
        treatments={t.slug: t for t in db.session.scalars(select(Treatment))},
    )


def working_days(first: date, last: date) -> list[date]:
    """Monday to Friday from ``first`` to ``last``, inclusive."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)
            if (first + timedelta(days=n)).weekday() < 5]


def days_back(count: int, last: date, practitioners: int, fill: float = HISTORY_FILL) -> date:
    """The first day of a history block ending on ``last`` that holds ``count`` at ``fill``."""
    needed = math.ceil(count / (len(CELLS) * practitioners * fill))
    day = last
    while needed > 0:
        if day.weekday() < 5:
            needed -= 1
        if needed > 0:
            day -= timedelta(days=1)
    return day


def add_appointments(clinic: Clinic, count: int, first: date, last: date, now: datetime,
                     rng: random.Random, *, cancelled: float = 0.03) -> int:
    """``count`` appointments on random free cells of ``first..last`` (a range no other block
    uses); past ones completed, a share ``cancelled`` cancelled and 2% of the past ones
    no-shows. Returns how many were added."""
    days = working_days(first, last)
    practitioners = clinic.practitioner_ids
    capacity = len(days) * len(CELLS) * len(practitioners)
    if count > capacity:
        raise ValueError(f"{count} appointments do not fit {first}..{last} ({capacity} cells)")
    chosen = sorted(rng.sample(range(capacity), count))
    by_cell: dict[int, list[int]] = {}
    for index in chosen:
        by_cell.setdefault(index // len(practitioners), []).append(practitioners[index % len(practitioners)])
    consultation = clinic.treatments["consultation"]
    room_treatments = [clinic.treatments[slug] for slug in ROOM_TREATMENTS]
    rows = []
    for cell, who in by_cell.items():
        day, at = days[cell // len(CELLS)], CELLS[cell % len(CELLS)]
        start = local_to_utc(day, at, TIMEZONE)
        patients = rng.sample(clinic.patient_ids, len(who))
        rooms = list(clinic.room_ids)
        rng.shuffle(who)
        for practitioner_id, patient_id in zip(who, patients):
            treatment, room_id = consultation, None
            if rooms and rng.random() < 0.75:
                treatment, room_id = rng.choice(room_treatments), rooms.pop()
            rows.append(_row(treatment, start, practitioner_id, room_id, patient_id, now, rng, cancelled))
    for n in range(0, len(rows), 5000):
        db.session.execute(insert(Appointment), rows[n:n + 5000])
    db.session.commit()
    analyze()
    return len(rows)


def analyze() -> None:
    """Refresh the planner's statistics and visibility map, as autovacuum would soon after a
    bulk load (index-only scans, such as the feed's ETag query, rely on the latter)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE")


def _row(treatment: Treatment, start: datetime, practitioner_id: int, room_id: int | None,
         patient_id: int, now: datetime, rng: random.Random, cancelled: float) -> dict:
    """One appointment row for a bulk insert."""
    end = start + timedelta(minutes=treatment.duration_minutes)
    roll = rng.random()
    if roll < cancelled:
        status = "cancelled"
    elif start < now:
        status = "no_show" if roll < cancelled + 0.02 else "completed"
    else:
        status = "booked"
    created = start - timedelta(days=rng.randint(1, 40))
    return {
        "patient_id": patient_id, "practitioner_id": practitioner_id, "room_id": room_id,
        "treatment_id": treatment.id, "start_at": start, "end_at": end,
        "busy_start": start - timedelta(minutes=treatment.buffer_before_minutes),
        "busy_end": end + timedelta(minutes=treatment.buffer_after_minutes),
        "status": status, "ical_uid": f"{uuid.UUID(int=rng.getrandbits(128))}@bench",
        "ical_sequence": 0, "created_at": created, "updated_at": created,
    }


def appointment_count() -> int:
    """Rows in the appointment table."""
    return db.session.scalar(select(func.count()).select_from(Appointment))


def oldest_day() -> date | None:
    """The local date of the earliest appointment."""
    first = db.session.scalar(select(func.min(Appointment.start_at)))
    if first is None:
        return None
    if first.tzinfo is None:  # aggregates bypass the column type on SQLite
        first = first.replace(tzinfo=UTC)
    return to_local(first, TIMEZONE).date()


def today(now: datetime) -> date:
    """The clinic's date at ``now``."""
    return to_local(now, TIMEZONE).date()


def fill_ahead(shape: Shape, now: datetime, rng: random.Random) -> int:
    """The bookings ahead: ``ahead_fill`` of the cells from tomorrow for ``ahead_days``."""
    clinic = load_clinic()
    first, last = today(now) + timedelta(days=1), today(now) + timedelta(days=shape.ahead_days)
    cells = len(working_days(first, last)) * len(CELLS) * len(clinic.practitioner_ids)
    return add_appointments(clinic, round(cells * shape.ahead_fill), first, last, now, rng)


def grow_history(total: int, now: datetime, rng: random.Random) -> int:
    """Add history before the oldest appointment until the table holds ``total`` rows."""
    missing = total - appointment_count()
    if missing <= 0:
        return 0
    clinic = load_clinic()
    last = min(oldest_day() or today(now), today(now)) - timedelta(days=1)
    first = days_back(missing, last, len(clinic.practitioner_ids))
    return add_appointments(clinic, missing, first, last, now, rng)


def generate(url: str, appointments: int, shape: Shape = Shape(), *, now: datetime | None = None,
             seed: int = 7) -> None:
    """A migrated, empty database at ``url`` becomes the benchmark clinic with ``appointments``."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    app = bench_app(url)
    with app.app_context():
        seed_clinic(shape)
        fill_ahead(shape, now, rng)
        grow_history(appointments, now, rng)
        db.engine.dispose()


def main() -> None:
    """Command line: reset the database and generate the clinic."""
    from bench.database import bench_url, reset_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help="database URL (default: BENCH_DATABASE_URL)")
    parser.add_argument("--appointments", type=int, default=20_000)
    parser.add_argument("--practitioners", type=int, default=10)
    parser.add_argument("--rooms", type=int, default=5)
    parser.add_argument("--ahead-days", type=int, default=35)
    parser.add_argument("--ahead-fill", type=float, default=0.4)
    args = parser.parse_args()
    url = reset_database(args.url or bench_url())
    shape = Shape(practitioners=args.practitioners, rooms=args.rooms, ahead_days=args.ahead_days,
                  ahead_fill=args.ahead_fill)
    generate(url, args.appointments, shape)
    app = bench_app(url)
    with app.app_context():
        print(f"{appointment_count()} appointments, {shape.practitioners} practitioners, "
              f"{shape.rooms} rooms, history from {oldest_day()}")
        db.engine.dispose()


if __name__ == "__main__":
    main()
