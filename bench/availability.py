"""Availability and series plans: p50/p95 over HTTP on gunicorn and in-process, and scaling.

What is asked (the README's booking page does the same): the free slots of one treatment
(mesotherapy-face: 30 min, a room, a 7-day prep lead) for four weeks, all practitioners; and
the plan of a 10-session series (mesotherapy-body) from a first start in that window.

    python -m bench.availability            # against BENCH_DATABASE_URL, as generated
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from bench.figures import Figure, Results, percentile, timed
from bench.generate import RECEPTIONIST, TIMEZONE, bench_app, today
from bench.server import Client
from booking.extensions import db
from booking.models import BLOCKING_STATUSES, Appointment, User
from booking.scheduling.clock import local_day_bounds, local_to_utc
from booking.services import booking
from booking.services.actor import Actor
from booking.services.availability import available_slots

TREATMENT = "mesotherapy-face"
SERIES_TREATMENT = "mesotherapy-body"  # 10 sessions, 6-14 days apart
WINDOW_DAYS = 28
# Targets as multiples of the hello-world route on the same server (issue 11).
COMPUTED_AVAILABILITY_RATIO = 20
PLAN_RATIO = 15


@dataclass(frozen=True)
class Ask:
    """One availability window and one series plan start."""

    first_day: date
    last_day: date
    plan_start: datetime

    @classmethod
    def from_today(cls, now: datetime) -> "Ask":
        """Four weeks starting a week and a day from now (past the longest prep lead)."""
        first = today(now) + timedelta(days=8)
        plan_day = first + timedelta(days=2)
        while plan_day.weekday() >= 5:
            plan_day += timedelta(days=1)
        return cls(first, first + timedelta(days=WINDOW_DAYS - 1), local_to_utc(plan_day, time(10), TIMEZONE))

    @property
    def availability_path(self) -> str:
        """GET /api/v1/availability for the window."""
        return f"/api/v1/availability?treatment={TREATMENT}&start={self.first_day}&end={self.last_day}"

    @property
    def plan_body(self) -> dict:
        """POST /api/v1/series/plan for the series."""
        return {"treatment": SERIES_TREATMENT, "first_start": self.plan_start.isoformat()}


def in_window(ask: Ask) -> int:
    """Active appointments inside the asked window."""
    bounds_lo = local_day_bounds(ask.first_day, TIMEZONE).start
    bounds_hi = local_day_bounds(ask.last_day, TIMEZONE).end
    return db.session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.status.in_(BLOCKING_STATUSES), Appointment.start_at >= bounds_lo, Appointment.start_at < bounds_hi))


def in_process(url: str, ask: Ask, repeat: int) -> dict[str, float]:
    """p50/p95 (ms) of the availability and plan use cases called directly, a fresh session
    each time (nothing cached between calls); and what the table and window hold."""
    app = bench_app(url)
    with app.app_context():
        receptionist = db.session.scalar(select(User).where(User.email == RECEPTIONIST))
        actor = Actor.of(receptionist)
        total = db.session.scalar(select(func.count()).select_from(Appointment))
        window = in_window(ask)
        slots = len(available_slots(None, treatment_slug=TREATMENT, first_day=ask.first_day,
                                    last_day=ask.last_day, reuse=False).slots)

        def availability() -> None:
            available_slots(None, treatment_slug=TREATMENT, first_day=ask.first_day, last_day=ask.last_day,
                            reuse=False)
            db.session.remove()

        def reused() -> None:
            available_slots(None, treatment_slug=TREATMENT, first_day=ask.first_day, last_day=ask.last_day)
            db.session.remove()

        def plan() -> None:
            booking.plan(actor, treatment_slug=SERIES_TREATMENT, first_start=ask.plan_start)
            db.session.remove()

        a, r, p = timed(availability, repeat), timed(reused, repeat), timed(plan, repeat)
        db.engine.dispose()
    return {
        "appointments": total, "in_window": window, "slots": slots,
        "availability_p50": percentile(a, 50) * 1000, "availability_p95": percentile(a, 95) * 1000,
        "reused_p50": percentile(r, 50) * 1000, "reused_p95": percentile(r, 95) * 1000,
        "plan_p50": percentile(p, 50) * 1000, "plan_p95": percentile(p, 95) * 1000,
    }


def over_http(port: int, token: str, ask: Ask, repeat: int,
              only: tuple[str, ...] = ("hello", "availability", "plan")) -> dict[str, list[float]]:
    """Seconds per request, one keep-alive client: hello, availability, plan (``repeat`` each)."""
    client = Client(port, token)
    checks = {
        "hello": lambda: client.request("GET", "/bench/hello"),
        "availability": lambda: client.request("GET", ask.availability_path),
        "plan": lambda: client.request("POST", "/api/v1/series/plan", ask.plan_body),
    }
    out: dict[str, list[float]] = {}
    for name, call in checks.items():
        if name not in only:
            continue
        first = call()
        if first.status != 200:
            raise RuntimeError(f"{name} answered {first.status}: {first.body[:300]!r}")
        if name == "plan":
            sessions = first.json()["sessions"]
            if len(sessions) != 10 or not all(s["placed"] for s in sessions):
                raise RuntimeError(f"the plan did not place 10 sessions: {first.body[:500]!r}")
        replies = []
        for _ in range(5):
            call()
        for _ in range(repeat):
            replies.append(call())
        if any(r.status != 200 for r in replies):
            raise RuntimeError(f"{name}: non-200 answers {sorted({r.status for r in replies})}")
        out[name] = [r.seconds for r in replies]
    client.close()
    return out


def record_http(results: Results, timings: dict[str, list[float]], label: str, *, targets: bool) -> None:
    """Add the HTTP figures (hello sets the baseline)."""
    hello_p50 = percentile(timings["hello"], 50) * 1000
    hello_p95 = percentile(timings["hello"], 95) * 1000
    if targets:  # the baseline figures of the run that carries the targets
        results.hello_p50, results.hello_p95 = hello_p50, hello_p95
        n = len(timings["hello"])
        results.add(Figure("baseline", f"hello world over HTTP, p50 ({n} requests, one client)", hello_p50))
        results.add(Figure("baseline", "hello world over HTTP, p95", hello_p95))
    for name, title, target in (("availability", f"availability 4 weeks, {label}, HTTP", 30),
                                ("plan", f"10-session series plan, {label}, HTTP", 60)):
        p50 = percentile(timings[name], 50) * 1000
        p95 = percentile(timings[name], 95) * 1000
        results.add(Figure("availability", f"{title} p50", p50, baseline=hello_p50))
        results.add(Figure("availability", f"{title} p95", p95, target=target if targets else None,
                           baseline=hello_p95))
        if targets and name == "plan":
            results.add(Figure("availability", f"{title} p50 / hello-world p50", p50 / hello_p50, "x",
                               target=PLAN_RATIO, note="issue 11: the plan at most 15x the hello-world route"))


def record_computed_http(results: Results, timings: dict[str, list[float]], label: str) -> None:
    """Add the availability figures of a server that works out every answer (AVAILABILITY_MEMO=0)."""
    for p in (50, 95):
        results.add(Figure("availability", f"availability 4 weeks, {label}, HTTP, worked out each time, p{p}",
                           percentile(timings["availability"], p) * 1000,
                           baseline=results.hello_p50 if p == 50 else results.hello_p95,
                           note="AVAILABILITY_MEMO=0" if p == 50 else ""))
    if results.hello_p50:
        ratio = percentile(timings["availability"], 50) * 1000 / results.hello_p50
        results.add(Figure("availability", f"availability worked out each time, {label}, HTTP p50 / hello-world p50",
                           ratio, "x", target=COMPUTED_AVAILABILITY_RATIO,
                           note="issue 11: at most 20x the hello-world route"))


def record_in_process(results: Results, row: dict[str, float], label: str) -> None:
    """Add the in-process figures of one data size."""
    results.add(Figure("availability", f"availability 4 weeks, {label}, in-process, worked out, p50",
                       row["availability_p50"],
                       note=f"{row['slots']} slots; {row['in_window']} appointments in the window"))
    results.add(Figure("availability", f"availability 4 weeks, {label}, in-process, worked out, p95",
                       row["availability_p95"]))
    results.add(Figure("availability", f"availability 4 weeks, {label}, in-process, answer reused, p50",
                       row["reused_p50"], note="key checked: settings, rules stamp, booked-time fingerprint"))
    results.add(Figure("availability", f"availability 4 weeks, {label}, in-process, answer reused, p95",
                       row["reused_p95"]))
    results.add(Figure("availability", f"10-session plan, {label}, in-process p50", row["plan_p50"]))
    results.add(Figure("availability", f"10-session plan, {label}, in-process p95", row["plan_p95"]))


def main() -> None:
    """Measure the database as it is (generate it first with ``python -m bench.generate``)."""
    from bench.database import bench_url
    from bench.generate import PASSWORD
    from bench.server import Gunicorn, api_token

    url = bench_url()
    ask = Ask.from_today(datetime.now(UTC))
    results = Results()
    row = in_process(url, ask, 50)
    record_in_process(results, row, f"{row['appointments']} appts")
    with Gunicorn(url) as server:
        token = api_token(server.port, RECEPTIONIST, PASSWORD)
        record_http(results, over_http(server.port, token, ask, 200), f"{row['appointments']} appts", targets=True)
    with Gunicorn(url, env={"AVAILABILITY_MEMO": "0"}) as server:
        token = api_token(server.port, RECEPTIONIST, PASSWORD)
        record_computed_http(results, over_http(server.port, token, ask, 200, only=("availability",)),
                             f"{row['appointments']} appts")


if __name__ == "__main__":
    main()
