"""Absence re-planning (issue 15): one practitioner's absence strands 30 booked appointments in
the 20k database; reception's proposals for all of them (the best new time inside each series
window, rehearsed so no two collide), in-process and over HTTP (the ``/reception/replan`` page).

The benchmark clinic works on a grid of hour cells (at most 8 appointments a practitioner a
day, about 3 booked ahead at the generator's fill), so the absence runs from the practitioner's
first booked appointment a week ahead until 30 of theirs are inside it: the work is per
stranded appointment, and the figure is for 30 of them.

    python -m bench.replan          # on a copy of BENCH_DATABASE_URL (which must hold the clinic)
"""

from __future__ import annotations

import http.client
import re
import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from urllib.parse import urlencode

from sqlalchemy import select

from bench.database import clone_database, drop_database
from bench.figures import Figure, Results, percentile, timed
from bench.generate import PASSWORD, RECEPTIONIST, bench_app, today
from bench.server import HOST, Gunicorn
from booking.extensions import db
from booking.models import Appointment, Intake, TimeOff, Treatment, User
from booking.scheduling.clock import local_to_utc

STRANDED = 30


def make_absence(url: str, now: datetime, count: int = STRANDED) -> tuple[int, int, int]:
    """Time off for the first practitioner covering ``count`` of their booked appointments from a
    week ahead; returns (practitioner id, stranded count, working days spanned)."""
    app = bench_app(url)
    with app.app_context():
        practitioner_id = db.session.scalar(select(Appointment.practitioner_id).order_by(Appointment.practitioner_id))
        start = local_to_utc(today(now) + timedelta(days=7), datetime.min.time(), "Europe/Rome")
        rows = list(db.session.scalars(
            select(Appointment).where(Appointment.practitioner_id == practitioner_id, Appointment.status == "booked",
                                      Appointment.start_at >= start)
            .order_by(Appointment.start_at).limit(count)))
        if len(rows) < count:
            raise RuntimeError(f"only {len(rows)} booked appointments ahead for practitioner {practitioner_id}")
        # The generator writes no health questionnaires; without one no treatment could move at
        # all (the rule book asks for it first), and there would be nothing to plan.
        answered = set(db.session.scalars(select(Intake.patient_id).where(
            Intake.patient_id.in_({r.patient_id for r in rows}))))
        db.session.add_all(Intake(patient_id=p, answers={}) for p in {r.patient_id for r in rows} - answered)
        # Nor consultations: give each treatment patient one three weeks back, in the evening
        # (off the grid, one a day, so it meets nothing).
        consultation = db.session.scalar(select(Treatment).where(Treatment.slug == "consultation"))
        treated = sorted({r.patient_id for r in rows if r.treatment_id != consultation.id})
        for n, patient_id in enumerate(treated):
            past = Appointment(patient_id=patient_id, practitioner_id=practitioner_id, room_id=None,
                               treatment_id=consultation.id, status="completed")
            past.place(local_to_utc(today(now) - timedelta(days=21 + n), wall(20), "Europe/Rome"),
                       consultation.duration_minutes, 0, 0)
            db.session.add(past)
        db.session.add(TimeOff(practitioner_id=practitioner_id, start_at=rows[0].start_at,
                               end_at=rows[-1].end_at, reason="Bench absence"))
        db.session.commit()
        days = len({r.start_at.date() for r in rows})
        db.engine.dispose()
    return practitioner_id, len(rows), days


def in_process(url: str, practitioner_id: int, repeat: int) -> tuple[list[float], int, int]:
    """Seconds per full set of proposals; (timings, proposals, placed)."""
    from booking.services import replanning
    from booking.services.actor import Actor

    app = bench_app(url)
    with app.app_context():
        reception = db.session.scalar(select(User).where(User.email == RECEPTIONIST))
        actor = Actor(reception.id, "receptionist")
        found = replanning.proposals(actor, practitioner_id=practitioner_id)
        times = timed(lambda: replanning.proposals(actor, practitioner_id=practitioner_id), repeat, warmup=1)
        db.session.rollback()
        db.engine.dispose()
    return times, len(found), sum(1 for p in found if p.best is not None)


class Browser:
    """A signed-in reception browser: one keep-alive connection with the session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection(HOST, port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, bytes, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response.status, data, elapsed

    def sign_in(self, email: str, password: str) -> None:
        _, page, _ = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
            re.search(rb'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page)
        form = {"email": email, "password": password}
        if token:
            form["csrf_token"] = token.group(1).decode()
        status, body, _ = self.request("POST", "/login", form)
        if status != 302:
            raise RuntimeError(f"signing in answered {status}: {body[:300]!r}")


def over_http(url: str, practitioner_id: int, repeat: int) -> list[float]:
    """Seconds per ``GET /reception/replan?practitioner=`` on gunicorn."""
    with Gunicorn(url) as server:
        browser = Browser(server.port)
        browser.sign_in(RECEPTIONIST, PASSWORD)
        path = f"/reception/replan?practitioner={practitioner_id}"
        status, body, _ = browser.request("GET", path)
        if status != 200 or f"To re-plan: {STRANDED}".encode() not in body:
            raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
        times = []
        for _ in range(repeat):
            status, _, seconds = browser.request("GET", path)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            times.append(seconds)
    return times


def measure(results: Results, url: str, now: datetime, *, repeat: int, label: str) -> None:
    """On a copy of ``url``: the absence, then the proposals in-process and over HTTP."""
    copy = clone_database(url, "replan")
    try:
        practitioner_id, stranded, days = make_absence(copy, now)
        times, proposed, placed = in_process(copy, practitioner_id, repeat)
        name = f"re-plan one practitioner's absence ({stranded} appts, {label})"
        note = f"{placed} of {proposed} placed; absence spans {days} working day(s) of the bench grid"
        results.add(Figure("replan", f"{name}, in-process p50 of {repeat}", percentile([t * 1000 for t in times], 50),
                           note=note))
        results.add(Figure("replan", f"{name}, in-process p95", percentile([t * 1000 for t in times], 95)))
        http_times = over_http(copy, practitioner_id, repeat)
        results.add(Figure("replan", f"{name}, over HTTP (page) p50 of {repeat}",
                           percentile([t * 1000 for t in http_times], 50), baseline=results.hello_p50))
        results.add(Figure("replan", f"{name}, over HTTP (page) p95", percentile([t * 1000 for t in http_times], 95),
                           baseline=results.hello_p95))
    finally:
        drop_database(copy)


def main() -> None:
    """Measure on a copy of the benchmark database as it is."""
    from bench.database import bench_url

    measure(Results(), bench_url(), datetime.now(UTC), repeat=5, label="as generated")


if __name__ == "__main__":
    main()
