"""Migrations are the only way the schema changes: they go up and down on both databases,
and the models hold nothing the migrations lack."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from booking.models import Base
from tests.conftest import make_pg_database, require_postgres, run_migrations


def _roundtrip(url: str) -> None:
    """Upgrade to head, compare with the models, downgrade to base, upgrade again."""
    run_migrations(url, "upgrade", "head")
    engine = create_engine(url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert {"appointment", "series", "outbox_message", "feed_token", "audit_event"} <= tables
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    run_migrations(url, "downgrade", "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    run_migrations(url, "upgrade", "head")
    engine.dispose()


def test_migrations_roundtrip_on_sqlite(tmp_path):
    _roundtrip(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")


def test_migrations_roundtrip_on_postgres():
    base = require_postgres()
    url = make_pg_database(base, f"booking_migrations_{os.getpid()}")
    try:
        _roundtrip(url)
    finally:
        from sqlalchemy.engine import make_url
        from sqlalchemy import text

        admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "booking_migrations_{os.getpid()}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("table", ["appointment"])
def test_overlap_rules_exist_after_upgrade(tmp_path, table):
    url = f"sqlite:///{tmp_path / 'triggers.sqlite3'}"
    run_migrations(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        names = {row[0] for row in connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,))}
    engine.dispose()
    assert names == {"appointment_no_overlap_insert", "appointment_no_overlap_update"}
