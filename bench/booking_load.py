"""Booking under load: 32 concurrent clients on gunicorn, on PostgreSQL and on SQLite.

Two runs per database, both as a receptionist booking 30-minute consultations for patients
through ``POST /api/v1/appointments``, in a range of days no other data uses:

- *different slots*: each client books its own slots (every request should succeed);
- *same slots*: every client tries every slot of one list in the same order, so each slot is
  fought over by 32 requests at once (exactly one should win, the rest get 409).

Afterwards a SQL self-join looks for overlapping active appointments per practitioner, per
room (held spans, buffers included) and per patient: there must be none.

    python -m bench.booking_load            # against BENCH_DATABASE_URL, as generated
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time as clock_time, timedelta

from sqlalchemy import bindparam, create_engine, text

from bench.figures import Figure, Results, percentile
from bench.generate import PASSWORD, RECEPTIONIST, TIMEZONE, bench_app, load_clinic, today, working_days
from bench.server import Client, Gunicorn, api_token
from booking.extensions import db
from booking.models import UTCDateTime
from booking.scheduling.clock import local_to_utc

CLIENTS = 32
# Consultation starts: every half hour of the working day (09-13, 14-18).
STARTS = tuple(clock_time(h, m) for h in (9, 10, 11, 12, 14, 15, 16, 17) for m in (0, 30))
FIRST_DAY_AHEAD = 60  # past the generated bookings ahead, inside the 180-day horizon

OVERLAP_SQL = """
SELECT count(*) FROM appointment a JOIN appointment b
  ON a.id < b.id AND a.{column} = b.{column} AND a.{start} < b.{end} AND b.{start} < a.{end}
WHERE a.status IN ('booked', 'checked_in', 'completed') AND b.status IN ('booked', 'checked_in', 'completed')
  AND a.start_at >= :since AND b.start_at >= :since
"""
RESOURCES = (("practitioner_id", "busy_start", "busy_end"), ("room_id", "busy_start", "busy_end"),
             ("patient_id", "start_at", "end_at"))


@dataclass(frozen=True)
class Booking:
    """One request: a start, a practitioner and a patient."""

    start: datetime
    practitioner_id: int
    patient_id: int

    @property
    def body(self) -> dict:
        """The POST /api/v1/appointments body."""
        return {"treatment": "consultation", "start": self.start.isoformat(),
                "practitioner_id": self.practitioner_id, "patient_id": self.patient_id}


@dataclass
class Run:
    """What one load run saw."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)

    @property
    def created(self) -> int:
        """Bookings made (201)."""
        return self.statuses[201]

    @property
    def p95_ms(self) -> float:
        """95th percentile latency in ms."""
        return percentile(self.latencies, 95) * 1000


def slots(practitioner_ids: list[int], first: date, count: int) -> list[tuple[datetime, int]]:
    """``count`` (start, practitioner) consultation slots from ``first``, in time order."""
    out: list[tuple[datetime, int]] = []
    day = first
    while len(out) < count:
        for working in working_days(day, day + timedelta(days=6)):
            for at in STARTS:
                start = local_to_utc(working, at, TIMEZONE)
                out.extend((start, p) for p in practitioner_ids)
        day += timedelta(days=7)
    return out[:count]


def run_clients(port: int, token: str, work: list[list[Booking]]) -> Run:
    """Each list of bookings is one client's, sent in order on its own keep-alive connection;
    all clients start together."""
    run = Run()
    lock = threading.Lock()
    barrier = threading.Barrier(len(work) + 1)

    def client(bookings: list[Booking]) -> None:
        connection = Client(port, token)
        mine: list[tuple[int, float]] = []
        barrier.wait()
        for booking in bookings:
            reply = connection.request("POST", "/api/v1/appointments", booking.body)
            mine.append((reply.status, reply.seconds))
        connection.close()
        with lock:
            for status, seconds in mine:
                run.statuses[status] += 1
                run.latencies.append(seconds)

    threads = [threading.Thread(target=client, args=(w,)) for w in work]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - start
    return run


def record_hello_throughput(results: Results, port: int, per_client: int) -> None:
    """Requests/s of the hello-world route with the same 32 clients: the baseline for bookings/s."""
    lock = threading.Lock()
    latencies: list[float] = []
    barrier = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        connection = Client(port)
        barrier.wait()
        mine = [connection.request("GET", "/bench/hello").seconds for _ in range(per_client)]
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    results.hello_rps = len(latencies) / seconds
    results.hello_load_p95 = percentile(latencies, 95) * 1000
    results.add(Figure("baseline", f"hello world, {CLIENTS} clients: requests/s", results.hello_rps, "/s"))
    results.add(Figure("baseline", f"hello world, {CLIENTS} clients: p95 latency", results.hello_load_p95))


def overlaps(url: str, since: datetime) -> int:
    """Pairs of overlapping active appointments starting from ``since`` (SQL self-join)."""
    engine = create_engine(url)
    found = 0
    with engine.connect() as connection:
        for column, start, end in RESOURCES:
            sql = text(OVERLAP_SQL.format(column=column, start=start, end=end)).bindparams(
                bindparam("since", type_=UTCDateTime()))
            found += connection.execute(sql, {"since": since}).scalar_one()
    engine.dispose()
    return found


def winners_per_slot(url: str, contested: list[tuple[datetime, int]]) -> Counter:
    """How many active appointments each contested (start, practitioner) slot holds."""
    engine = create_engine(url)
    counts: Counter = Counter()
    with engine.connect() as connection:
        query = text("SELECT count(*) FROM appointment WHERE practitioner_id = :p AND start_at = :s "
                     "AND status IN ('booked', 'checked_in', 'completed')").bindparams(
            bindparam("s", type_=UTCDateTime()))
        for start, practitioner_id in contested:
            counts[connection.execute(query, {"p": practitioner_id, "s": start}).scalar_one()] += 1
    engine.dispose()
    return counts


def measure(results: Results, url: str, label: str, *, per_client: int, contested: int, now: datetime) -> None:
    """Both runs on the database at ``url`` (generated already), then the overlap check."""
    app = bench_app(url)
    with app.app_context():
        clinic = load_clinic()
        db.engine.dispose()
    first = today(now) + timedelta(days=FIRST_DAY_AHEAD)
    since = local_to_utc(first, clock_time(0), TIMEZONE)
    patients = clinic.patient_ids
    # Different slots: consecutive slots share a time across practitioners, so consecutive
    # patients keep every patient to one appointment at a time.
    own = slots(clinic.practitioner_ids, first, CLIENTS * per_client)
    different = [Booking(start, p, patients[n % len(patients)]) for n, (start, p) in enumerate(own)]
    work = [different[c::CLIENTS] for c in range(CLIENTS)]
    # Same slots: later days, one practitioner per start time (so a client's own patient is
    # never busy elsewhere at that time); client c always books for its own patient.
    starts = sorted({start for start, _ in slots(clinic.practitioner_ids, first + timedelta(days=35),
                                                 contested * len(clinic.practitioner_ids))})[:contested]
    ids = clinic.practitioner_ids
    fought = [(start, ids[n % len(ids)]) for n, start in enumerate(starts)]
    same = [[Booking(start, p, patients[-1 - c]) for start, p in fought] for c in range(CLIENTS)]
    with Gunicorn(url) as server:
        token = api_token(server.port, RECEPTIONIST, PASSWORD)
        warm = Client(server.port, token)
        for _ in range(4):  # touch every worker's imports and connections before timing
            warm.request("GET", "/api/v1/treatments")
        warm.close()
        apart = run_clients(server.port, token, work)
        together = run_clients(server.port, token, same)
        describe = server.describe
    pg = label == "PostgreSQL"
    unexpected = {s: n for s, n in apart.statuses.items() if s != 201}
    results.add(Figure("booking", f"{label}, {CLIENTS} clients, different slots: bookings/s",
                       apart.created / apart.seconds, "/s", target=200 if pg else None, kind="min",
                       baseline=results.hello_rps,
                       note=f"{apart.created}/{sum(apart.statuses.values())} booked in {apart.seconds:.1f} s"
                            + (f"; other answers {unexpected}" if unexpected else "") + f"; {describe}"))
    results.add(Figure("booking", f"{label}, different slots: p95 latency", apart.p95_ms, baseline=results.hello_load_p95))
    wins = winners_per_slot(url, fought)
    results.add(Figure("booking", f"{label}, {CLIENTS} clients, same slots: requests/s",
                       sum(together.statuses.values()) / together.seconds, "/s",
                       note=f"{together.created} won of {len(fought)} slots; answers {dict(together.statuses)}; "
                            f"slots held once: {wins.get(1, 0)}/{len(fought)}"))
    results.add(Figure("booking", f"{label}, same slots: p95 latency", together.p95_ms, baseline=results.hello_load_p95))
    results.add(Figure("booking", f"{label}, overlaps found afterwards (SQL self-join)", overlaps(url, since), "",
                       target=0, kind="eq"))
    results.add(Figure("booking", f"{label}, same slots booked more than once", sum(n for k, n in wins.items() if k > 1),
                       "", target=0, kind="eq"))


def main() -> None:
    """Load the main benchmark database (generate it first with ``python -m bench.generate``)."""
    from bench.database import bench_url

    measure(Results(), bench_url(), "PostgreSQL", per_client=25, contested=40, now=datetime.now(UTC))


if __name__ == "__main__":
    main()
