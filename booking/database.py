"""Engine set-up per database, and the write transaction every booking use case runs in.

SQLite cannot stop overlapping rows with a constraint the way PostgreSQL's exclusion
constraints do, so writes that check-then-insert must be serialized: a write use case starts
its transaction with ``BEGIN IMMEDIATE``, which takes SQLite's single writer lock before the
first read, so its availability check and its insert see no concurrent writer.
Read-only requests keep SQLite's default deferred transactions and never wait for writers.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, scoped_session

SQLITE_BEGIN_OPTION = "sqlite_begin"
P = ParamSpec("P")
R = TypeVar("R")


def configure_engine(engine: Engine) -> None:
    """Install the per-dialect connection behaviour on ``engine`` (idempotent)."""
    if getattr(engine, "_booking_configured", False):
        return
    engine._booking_configured = True  # type: ignore[attr-defined]
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _utc_session(dbapi_connection: Any, _record: Any) -> None:
            # Timestamps then arrive already in UTC, and need no conversion per value.
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'UTC'")
            dbapi_connection.commit()
        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN, so its mode can be chosen below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if not _is_memory(engine):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _is_memory(engine: Engine) -> bool:
    """True for an in-memory SQLite database."""
    database = engine.url.database
    return database in (None, "", ":memory:")


def begin_write(session: Session | scoped_session) -> None:
    """Start a write use case's transaction: serialized on SQLite, plain on PostgreSQL.

    On SQLite whatever the session read before (the signed-in user, say) is let go first, so
    the use case's reads all happen inside the locked transaction. PostgreSQL runs READ
    COMMITTED: every statement already sees what is committed when it starts, so a transaction
    the request's sign-in check opened simply goes on (no ROLLBACK and BEGIN round trips for
    nothing); what it loaded is expired all the same, so a row the use case locks (``FOR
    UPDATE``) is read again under the lock. Unflushed changes at this point are a bug in the
    caller, so they are refused rather than silently dropped.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("begin_write() called with unsaved changes in the session")
    if session.in_transaction():
        if session.get_bind().dialect.name != "sqlite":
            session.expire_all()
            return
        session.rollback()
    session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})


DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE for a transaction chosen as a deadlock victim
_ATTEMPTS = 5


def retry_deadlocks(use_case: Callable[P, R]) -> Callable[P, R]:
    """Run a write use case again when PostgreSQL aborted it to break a deadlock.

    Two transactions inserting rows that clash on an exclusion constraint each wait for the
    other to finish before deciding (unlike a unique index, an exclusion constraint has no
    special case for that), so PostgreSQL aborts one of them. Run again from the start, the
    victim sees the winner's committed row and is refused by the rules (409), or books if the
    winner rolled back. The use case must start its own transaction (``begin_write``).
    Between attempts it waits a short random while (longer each time), so two victims of the
    same crowd do not meet again at once; under heavy contention three immediate attempts
    were not always enough (a 500 after the third deadlock in the benchmark's busiest run).
    """

    @functools.wraps(use_case)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from booking.extensions import db

        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return use_case(*args, **kwargs)
            except OperationalError as error:
                if getattr(error.orig, "sqlstate", None) != DEADLOCK_DETECTED or attempt == _ATTEMPTS:
                    raise
                db.session.rollback()
                time.sleep(random.uniform(0, 0.01 * attempt))
        raise AssertionError("unreachable")

    return run
