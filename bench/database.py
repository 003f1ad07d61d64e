"""The benchmark databases: where they are, and making them empty and migrated.

``BENCH_DATABASE_URL`` names the main one (default: a local ``booking_bench``); others get
its name with a suffix (``booking_bench_feed``). Only databases whose name contains "bench"
are ever dropped, so a mistyped URL cannot wipe real data.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import normalise_database_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/booking_bench"


def bench_url() -> str:
    """The main benchmark database URL (psycopg 3 driver)."""
    return normalise_database_url(os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL)


def sibling_url(url: str, suffix: str) -> str:
    """The URL of another database on the same server, named ``<name>_<suffix>``."""
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{suffix}").render_as_string(hide_password=False)


def reset_database(url: str) -> str:
    """Drop and create the database of ``url`` (PostgreSQL) or delete the file (SQLite), then
    migrate it to head. Returns ``url``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        name = parsed.database or ""
        if "bench" not in name:
            raise SystemExit(f"Refusing to drop database {name!r}: benchmark databases must have 'bench' in their name.")
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    migrate(url)
    return url


def clone_database(url: str, suffix: str) -> str:
    """A copy of the PostgreSQL database at ``url`` named ``<name>_<suffix>`` (nothing may be
    connected to the original while it is copied)."""
    parsed = make_url(url)
    copy = sibling_url(url, suffix)
    name = make_url(copy).database
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
    admin.dispose()
    return copy


def migrate(url: str) -> None:
    """Upgrade the database of ``url`` to the latest migration."""
    from flask_migrate import upgrade

    from booking import create_app
    from booking.extensions import db

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade()
        db.engine.dispose()


def drop_database(url: str) -> None:
    """Drop a benchmark database (PostgreSQL) or delete its file (SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").unlink(missing_ok=True)
        return
    name = parsed.database or ""
    if "bench" not in name:
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
