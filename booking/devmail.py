"""Development: mail that flows by itself, with links to the address the app is served on.

In production the outbox and the reminders are timers (``flask outbox send``, ``flask reminders
send`` from cron). With ``make run`` nobody runs them, so the development configuration
(``DEV_BACKGROUND_MAIL``, on by default there and nowhere else) starts a :class:`DevMailWorker`:
a daemon thread of the serving process that queues the reminders that are due and delivers the
outbox (``.eml`` files in ``MAIL_DIR``, listed at ``/staff/mail``, or SMTP when ``SMTP_HOST`` is
set) every ``DEV_MAIL_INTERVAL_SECONDS``, and at once after a request that may have queued mail.

**When it starts: on the first HTTP request the app serves.** That one trigger gives each rule:

- CLI commands (``flask seed-demo``, ``flask db upgrade``, ``flask outbox send``) build the same
  app but never serve a request, so they start no thread;
- under the reloader ``flask run`` is two processes, a watcher that only restarts the other and
  the child that serves; only the child gets requests, so there is one worker per serving
  process, and a reloaded child starts its own (the old one died with its process);
- it starts once: a lock guards the start against two first requests arriving together;
- a reload ends the thread with its process, at worst between claiming a message and recording
  it: that message is then sent again once its lease ends (``booking.mail.sender``), never lost;
- testing and production never start one: the switch is off in their configurations, and
  :func:`register` refuses any environment but ``development`` even when the switch is set.

**Links.** When ``BASE_URL`` was not set in the environment (``BASE_URL_FROM_REQUEST``, again
development only), the first request's address (``request.host_url``) becomes ``BASE_URL`` and a
mail renderer for it is installed before the worker starts, so mail queued by pages, by the
worker's reminders, reset links and feed URLs all point where the app is actually served.
Production keeps the configured ``BASE_URL`` and never trusts the Host header.
"""

from __future__ import annotations

import re
import threading

from flask import Flask, request

from booking.extensions import db
from booking.mail import rendering
from booking.mail.sender import SendReport, send_due, transport_from_config

DEVELOPMENT = "development"
EXTENSION = "dev_mail_worker"
# A host[:port] as a browser sends it (names, IPv4, [IPv6]); anything else keeps the configured BASE_URL.
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


class DevMailWorker:
    """A daemon thread that queues due reminders and sends the outbox of ``app`` in a loop."""

    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="dev-mail", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self.thread.start()

    def poke(self) -> None:
        """Run again now instead of at the end of the interval (a request may have queued mail)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current run and wait for the thread (tests; the process exit ends it too)."""
        self._stopped.set()
        self._wake.set()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()  # a poke during the run below makes the wait return at once
            self.run_once()
            self._wake.wait(self.interval)

    def run_once(self) -> SendReport | None:
        """Queue the due reminders, prep checks and recalls, then send what is due; log what was done. Errors are logged,
        never raised: the next run tries again (the outbox keeps every message until it is sent)."""
        from booking.services.reminders import queue_due_reminders

        app, report = self.app, None
        with app.app_context():
            try:
                queued = queue_due_reminders()
                if queued.appointment or queued.prep:
                    app.logger.info("Development mail: queued %d reminder(s), %d prep reminder(s)",
                                    queued.appointment, queued.prep)
            except Exception:  # noqa: BLE001 -- a development convenience must not die; see the log
                db.session.rollback()
                app.logger.exception("Development mail: queueing reminders failed")
            try:
                from booking.services.course import run_timers

                app.logger.debug("Development course timers: %s", run_timers())
            except Exception:  # noqa: BLE001
                db.session.rollback()
                app.logger.exception("Development mail: the course timers (prep checks, recalls) failed")
            try:
                report = send_due(transport_from_config(app.config), mail_from=app.config["MAIL_FROM"],
                                  max_attempts=app.config["OUTBOX_MAX_ATTEMPTS"])
                if report.sent or report.retried or report.failed:
                    where = "SMTP" if app.config.get("SMTP_HOST") else "the development mailbox, /staff/mail"
                    app.logger.info("Development mail: %s (%s)", report, where)
            except Exception:  # noqa: BLE001
                db.session.rollback()
                app.logger.exception("Development mail: sending the outbox failed")
            finally:
                db.session.remove()
        return report


def enabled(app: Flask) -> bool:
    """Whether ``app`` runs the background mail worker: development with the switch on, only."""
    return app.config.get("BOOKING_ENV") == DEVELOPMENT and bool(app.config.get("DEV_BACKGROUND_MAIL"))


def follows_request_address(app: Flask) -> bool:
    """Whether ``app`` takes ``BASE_URL`` from the first request: development without BASE_URL set."""
    return app.config.get("BOOKING_ENV") == DEVELOPMENT and bool(app.config.get("BASE_URL_FROM_REQUEST"))


def worker(app: Flask) -> DevMailWorker | None:
    """The worker ``app`` started, if any."""
    return app.extensions.get(EXTENSION)


def use_base_url(app: Flask, base_url: str) -> None:
    """Point links in mail and feeds at ``base_url``: the setting and the installed mail renderer."""
    app.config["BASE_URL"] = base_url.rstrip("/")
    rendering.install(rendering.MailRenderer(app.config["BASE_URL"]))


def register(app: Flask) -> None:
    """In development, on the first request: adopt its address (unless BASE_URL is set), then
    start the worker (unless switched off). Nothing at all in any other environment."""
    if not (enabled(app) or follows_request_address(app)):
        return
    lock = threading.Lock()
    started = False

    @app.before_request
    def start_development_mail() -> None:
        """The first request's address and the worker, once per serving process."""
        nonlocal started
        if started:
            return
        with lock:
            if started:
                return
            if follows_request_address(app) and _HOST.match(request.host):
                use_base_url(app, request.host_url)
            if enabled(app) and EXTENSION not in app.extensions:
                background = DevMailWorker(app, float(app.config["DEV_MAIL_INTERVAL_SECONDS"]))
                app.extensions[EXTENSION] = background
                background.start()
            started = True

    @app.after_request
    def deliver_soon(response):
        """A request that may have written (a booking, a move) wakes the worker."""
        background = worker(app)
        if background is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
            background.poke()
        return response
