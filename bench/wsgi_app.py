"""The app as production serves it, plus ``/bench/hello``: the hello-world baseline.

Used only by the benchmarks (``gunicorn bench.wsgi_app:app``); the product has no such route.
The baseline goes through the same server, the same Flask app and its request hooks, so a
figure divided by it shows what the work itself costs over an empty request.
"""

from __future__ import annotations

from wsgi import app



def bench_hello() -> tuple[str, int, dict[str, str]]:
    """An empty answer: what a request costs before it does any work."""
    return "hello", 200, {"Content-Type": "text/plain"}


# Plain Flask routing: the OpenAPI app's own decorators would add the route to the API document.
app.add_url_rule("/bench/hello", "bench_hello", bench_hello)
