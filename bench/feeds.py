"""Calendar feeds: a 10,000-event clinic feed built from scratch, and answered 304 on a
matching ETag, over HTTP on gunicorn.

The feed database holds exactly the events the feed shows: the clinic's appointments from
50 days ago to about five months ahead (a feed shows 60 days of history and everything
ahead), none cancelled.

    python -m bench.feeds                   # makes and fills <BENCH_DATABASE_URL>_feed
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bench.figures import Figure, Results, percentile
from bench.generate import (
    PASSWORD,
    RECEPTIONIST,
    Shape,
    add_appointments,
    bench_app,
    load_clinic,
    seed_clinic,
    today,
)
from bench.server import Client, Gunicorn, api_token
from booking.extensions import db


def generate_feed_clinic(url: str, events: int, now: datetime) -> None:
    """The clinic with ``events`` appointments, all inside the feed's window."""
    rng = random.Random(11)
    app = bench_app(url)
    with app.app_context():
        seed_clinic(Shape())
        days = max(60, round(events / (8 * 10 * 0.7) * 7 / 5))  # about 70% of the cells
        first = today(now) - timedelta(days=50)
        add_appointments(load_clinic(), events, first, first + timedelta(days=days), now, rng, cancelled=0.0)
        db.engine.dispose()


def measure(results: Results, url: str, *, events: int, cold: int, revalidate: int) -> None:
    """Full builds (no ETag sent) and 304s (matching ETag) of the clinic feed."""
    with Gunicorn(url) as server:
        token = api_token(server.port, RECEPTIONIST, PASSWORD)
        made = Client(server.port, token).request("POST", "/api/v1/feeds", {"scope": "clinic"})
        if made.status != 201:
            raise RuntimeError(f"POST /api/v1/feeds answered {made.status}: {made.body[:300]!r}")
        path = "/" + made.json()["url"].split("/", 3)[3]
        client = Client(server.port)
        first = client.request("GET", path)
        found = first.body.count(b"BEGIN:VEVENT")
        if first.status != 200 or found != events:
            raise RuntimeError(f"the feed answered {first.status} with {found} events, not {events}")
        builds = [client.request("GET", path) for _ in range(cold)]
        etag = builds[-1].headers["etag"]
        for _ in range(5):
            client.request("GET", path, headers={"If-None-Match": etag})
        checks = [client.request("GET", path, headers={"If-None-Match": etag}) for _ in range(revalidate)]
        if any(r.status != 304 for r in checks):
            raise RuntimeError(f"revalidation answered {sorted({r.status for r in checks})}, not 304")
        client.close()
    size = len(first.body) / 1e6
    times = [r.seconds * 1000 for r in builds]
    results.add(Figure("feeds", f"{events:,}-event feed, first request after start", first.seconds * 1000,
                       baseline=results.hello_p50, note=f"{size:.1f} MB"))
    results.add(Figure("feeds", f"{events:,}-event feed, cold (built each time) p50 of {cold}",
                       percentile(times, 50), baseline=results.hello_p50))
    results.add(Figure("feeds", f"{events:,}-event feed, cold p95", percentile(times, 95), target=400,
                       baseline=results.hello_p95))
    checked = [r.seconds * 1000 for r in checks]
    results.add(Figure("feeds", f"{events:,}-event feed, matching ETag (304) p50 of {revalidate}",
                       percentile(checked, 50), baseline=results.hello_p50))
    results.add(Figure("feeds", f"{events:,}-event feed, matching ETag (304) p95", percentile(checked, 95),
                       target=5, baseline=results.hello_p95))


def main() -> None:
    """Make the feed database and measure it."""
    from bench.database import bench_url, reset_database, sibling_url

    url = reset_database(sibling_url(bench_url(), "feed"))
    generate_feed_clinic(url, 10_000, datetime.now(UTC))
    measure(Results(), url, events=10_000, cold=20, revalidate=200)


if __name__ == "__main__":
    main()
