"""A real server to measure: gunicorn on a free loopback port, and a keep-alive HTTP client.

The server runs the production settings (``BOOKING_CONFIG=production``) against a benchmark
database, as ``make serve`` does, with the hello-world baseline route mounted
(``bench.wsgi_app``). Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Gunicorn:
    """``gunicorn -w W -k gthread --threads T bench.wsgi_app:app`` as a context manager."""

    def __init__(self, database_url: str, *, workers: int = 4, threads: int = 4,
                 env: dict[str, str] | None = None) -> None:
        """Remember how to start it (``env``: more environment variables); nothing runs until ``with``."""
        self.database_url = database_url
        self.extra_env = dict(env or {})
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile("w+", prefix="bench-gunicorn-", suffix=".log", delete=False)

    @property
    def describe(self) -> str:
        """How the server runs, for the report."""
        return f"gunicorn -w {self.workers} -k gthread --threads {self.threads}"

    def __enter__(self) -> "Gunicorn":
        """Start the server and wait until /healthz answers 200 (fail after 60 s)."""
        self.instance = tempfile.mkdtemp(prefix="bench-instance-")
        env = dict(os.environ)
        env.update({
            "BOOKING_CONFIG": "production",
            "DATABASE_URL": self.database_url,
            # Production refuses short or published keys, and a start without a mail relay
            # (nothing is sent during a benchmark: the outbox is not run).
            "SECRET_KEY": secrets.token_urlsafe(48),
            "SMTP_HOST": "127.0.0.1",
            "PYTHONPATH": str(ROOT),
            "BOOKING_INSTANCE_DIR": self.instance,
            **self.extra_env,
        })
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--worker-class", "gthread",
             "--threads", str(self.threads), "--bind", f"{HOST}:{self.port}", "--keep-alive", "30",
             "--log-level", "warning", "bench.wsgi_app:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log.name}\n{self.tail()}")
            try:
                if Client(self.port).request("GET", "/healthz").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn did not answer /healthz within 60 s; see {self.log.name}")

    def __exit__(self, *exc: object) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and keep its log."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.flush()
        shutil.rmtree(getattr(self, "instance", ""), ignore_errors=True)

    def tail(self, lines: int = 30) -> str:
        """The end of the server's log."""
        self.log.flush()
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Reply:
    """One HTTP answer and how long it took (seconds, from send to last byte)."""

    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class Client:
    """One keep-alive HTTP/1.1 connection to the server (reconnects when the server closes it)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        """A client for ``127.0.0.1:port``, with an optional bearer token."""
        self.port = port
        self.token = token
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        """Send a request (``body`` as JSON) and read the whole answer."""
        sent = dict(headers or {})
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):
            start = time.perf_counter()
            try:
                self.connection.request(method, path, body=payload, headers=sent)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=60)
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - start
            return Reply(response.status, data, {k.lower(): v for k, v in response.getheaders()}, elapsed)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def api_token(port: int, email: str, password: str) -> str:
    """A bearer token from POST /api/v1/tokens."""
    reply = Client(port).request("POST", "/api/v1/tokens", {"email": email, "password": password})
    if reply.status != 201:
        raise RuntimeError(f"POST /api/v1/tokens answered {reply.status}: {reply.body[:300]!r}")
    return reply.json()["token"]
