"""Every benchmark in one run: ``make bench`` (or ``python -m bench.run``).

1. The main database (``BENCH_DATABASE_URL``, reset): the clinic with 10 practitioners and
   5 rooms, bookings ahead, and history grown 1k -> 10k -> 20k -> 100k appointments; at each
   size availability and the series plan in-process; at 20k over HTTP on gunicorn with the
   hello-world baseline (the targets), and again at 100k.
2. Booking under load on a copy of the 20k database, then on SQLite.
3. The window filling up (table size fixed), in-process.
4. A 10,000-event feed, full and 304.
5. (At 20k, on a copy) re-planning one practitioner's absence of 30 appointments, in-process
   and over HTTP.
6. (At 20k, on a copy) the time from a cancellation to the first waitlist offer queued.

It prints every figure with its target, then writes docs/PERFORMANCE.md and the plot.
``BENCH_QUICK=1`` runs a small, fast version (a smoke test: smaller data, fewer requests;
it does not rewrite docs/PERFORMANCE.md unless ``BENCH_WRITE=1``).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta

from bench import availability, booking_load, feeds, replan, waitlist
from bench.database import bench_url, clone_database, drop_database, reset_database, sibling_url
from bench.figures import Results, load_average
from bench.generate import (
    PASSWORD,
    RECEPTIONIST,
    Shape,
    add_appointments,
    bench_app,
    fill_ahead,
    grow_history,
    load_clinic,
    seed_clinic,
    today,
    working_days,
    CELLS,
)
from bench.report import plot, print_table, write_doc
from bench.server import Gunicorn, api_token
from booking.extensions import db

QUICK = os.environ.get("BENCH_QUICK") == "1"
SIZES = (1_000, 5_000) if QUICK else (1_000, 10_000, 20_000, 100_000)
MAIN_SIZE = SIZES[-1] if QUICK else 20_000
HTTP_REPEAT = 30 if QUICK else 200
IN_PROCESS_REPEAT = 10 if QUICK else 50
LOAD_PER_CLIENT = 3 if QUICK else 25
CONTESTED = 5 if QUICK else 40
SQLITE_SIZE = 500 if QUICK else 2_000
FEED_EVENTS = 1_000 if QUICK else 10_000
FEED_COLD = 3 if QUICK else 10
FEED_304 = 30 if QUICK else 200
DENSITY = (0.2, 0.6) if QUICK else (0.1, 0.3, 0.5, 0.7, 0.9)
REPLAN_REPEAT = 2 if QUICK else 10
WAITLIST_REPEAT = 5 if QUICK else 30


def step(message: str) -> None:
    """Say what runs next."""
    print(f"\n== {message}  (load {load_average()})", flush=True)


def label(size: int) -> str:
    """"20k appts"."""
    return f"{size // 1000}k appts" if size >= 1000 else f"{size} appts"


def main_database(results: Results, url: str, now: datetime, ask: availability.Ask) -> None:
    """Grow the main database through the sizes, measuring at each; booking load at 20k."""
    rng = random.Random(7)
    app = bench_app(url)
    with app.app_context():
        seed_clinic(Shape())
        fill_ahead(Shape(), now, rng)
        db.engine.dispose()
    for size in SIZES:
        with app.app_context():
            started = time.perf_counter()
            grow_history(size, now, rng)
            db.engine.dispose()
        step(f"{size:,} appointments (generated in {time.perf_counter() - started:.1f} s): in-process")
        row = availability.in_process(url, ask, IN_PROCESS_REPEAT)
        results.scaling.append(row)
        if size in (MAIN_SIZE, SIZES[-1]):
            availability.record_in_process(results, row, label(size))
        if size == MAIN_SIZE:
            step(f"{size:,} appointments: over HTTP on gunicorn")
            with Gunicorn(url) as server:
                token = api_token(server.port, RECEPTIONIST, PASSWORD)
                timings = availability.over_http(server.port, token, ask, HTTP_REPEAT)
                availability.record_http(results, timings, label(size), targets=True)
                booking_load.record_hello_throughput(results, server.port, LOAD_PER_CLIENT * 4)
            step(f"{size:,} appointments: over HTTP, every availability answer worked out")
            with Gunicorn(url, env={"AVAILABILITY_MEMO": "0"}) as server:
                token = api_token(server.port, RECEPTIONIST, PASSWORD)
                timings = availability.over_http(server.port, token, ask, HTTP_REPEAT, only=("availability",))
                availability.record_computed_http(results, timings, label(size))
            step("booking under load, PostgreSQL (on a copy of this database)")
            copy = clone_database(url, "load")
            try:
                booking_load.measure(results, copy, "PostgreSQL", per_client=LOAD_PER_CLIENT,
                                     contested=CONTESTED, now=now)
            finally:
                drop_database(copy)
            step(f"re-planning one practitioner's absence ({replan.STRANDED} appointments, on a copy)")
            replan.measure(results, url, now, repeat=REPLAN_REPEAT, label=label(size))
            step("the time from a cancellation to the first waitlist offer queued (on a copy)")
            waitlist.measure(results, url, now, repeat=WAITLIST_REPEAT, label=label(size))
        elif size == SIZES[-1]:
            step(f"{size:,} appointments: over HTTP on gunicorn")
            with Gunicorn(url) as server:
                token = api_token(server.port, RECEPTIONIST, PASSWORD)
                timings = availability.over_http(server.port, token, ask, HTTP_REPEAT)
                availability.record_http(results, timings, label(size), targets=False)


def density(results: Results, url: str, now: datetime, ask: availability.Ask) -> None:
    """Refill the bookings ahead at several shares; in-process availability each time."""
    from sqlalchemy import delete

    from booking.models import Appointment
    from booking.scheduling.clock import local_day_bounds

    rng = random.Random(3)
    app = bench_app(url)
    first, last = today(now) + timedelta(days=1), today(now) + timedelta(days=Shape().ahead_days)
    for share in DENSITY:
        with app.app_context():
            db.session.execute(delete(Appointment).where(
                Appointment.start_at >= local_day_bounds(first, "Europe/Rome").start,
                Appointment.start_at < local_day_bounds(last, "Europe/Rome").end))
            db.session.commit()
            clinic = load_clinic()
            cells = len(working_days(first, last)) * len(CELLS) * len(clinic.practitioner_ids)
            add_appointments(clinic, round(cells * share), first, last, now, rng)
            db.engine.dispose()
        row = availability.in_process(url, ask, IN_PROCESS_REPEAT)
        print(f"  window {share:.0%} full: {row['in_window']} appointments in the window, "
              f"p50 {row['availability_p50']:.1f} ms, p95 {row['availability_p95']:.1f} ms", flush=True)
        results.density.append(row)


def sqlite_load(results: Results, now: datetime) -> None:
    """The booking load on SQLite (a file in a temporary folder)."""
    folder = tempfile.mkdtemp(prefix="bench-sqlite-")
    url = reset_database(f"sqlite:///{folder}/bench.sqlite3")
    rng = random.Random(5)
    app = bench_app(url)
    with app.app_context():
        seed_clinic(Shape(patients=1000))
        fill_ahead(Shape(), now, rng)
        grow_history(SQLITE_SIZE, now, rng)
        db.engine.dispose()
    booking_load.measure(results, url, "SQLite", per_client=max(2, LOAD_PER_CLIENT // 2),
                         contested=max(3, CONTESTED // 2), now=now)
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    """Run everything, print the table, write the report."""
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    load_before = load_average()
    now = started_at
    ask = availability.Ask.from_today(now)
    results = Results()
    url = bench_url()
    print(f"Benchmarks{' (quick)' if QUICK else ''} against {url.split('@')[-1]}; load average {load_before}")
    step("resetting the main database")
    reset_database(url)
    main_database(results, url, now, ask)
    step("availability as the window fills up (in-process)")
    density(results, url, now, ask)
    step("booking under load, SQLite")
    sqlite_load(results, now)
    step(f"a {FEED_EVENTS:,}-event feed")
    feed_url = reset_database(sibling_url(url, "feed"))
    feeds.generate_feed_clinic(feed_url, FEED_EVENTS, now)
    feeds.measure(results, feed_url, events=FEED_EVENTS, cold=FEED_COLD, revalidate=FEED_304)
    load_after = load_average()
    minutes = (time.perf_counter() - clock) / 60
    results.notes.append(f"The whole run took {minutes:.1f} minutes.")
    print_table(results)
    if not QUICK or os.environ.get("BENCH_WRITE") == "1":
        picture = plot(results)
        path = write_doc(results, started=started_at, load_before=load_before, load_after=load_after,
                         quick=QUICK, picture=picture)
        print(f"\nWrote {path.relative_to(path.parent.parent)}" + (f" and {picture.name}" if picture else ""))


if __name__ == "__main__":
    main()
