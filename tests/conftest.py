"""Fixtures shared by every test: an app with a fresh, migrated database per test.

Database tests run on SQLite always and on PostgreSQL too when ``TEST_DATABASE_URL`` is set.
With ``REQUIRE_POSTGRES=1`` (CI) a PostgreSQL test that cannot run fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import normalise_database_url

BACKENDS = ("sqlite", "postgres")


def postgres_url() -> str | None:
    """The PostgreSQL URL for tests, or None; fails the run in CI when it is missing."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return normalise_database_url(url)
    return None


def require_postgres() -> str:
    """The PostgreSQL URL, or skip (fail under REQUIRE_POSTGRES=1) when there is none."""
    url = postgres_url()
    if url is None:
        message = "TEST_DATABASE_URL is not set"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (REQUIRE_POSTGRES=1) but {message}")
        pytest.skip(message)
    return url


def run_migrations(database_url: str, direction: str = "upgrade", target: str = "head") -> None:
    """Run Alembic through Flask-Migrate against ``database_url``."""
    from flask_migrate import downgrade, upgrade

    from booking import create_app

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        (upgrade if direction == "upgrade" else downgrade)(revision=target)
        from booking.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    run_migrations(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """The PostgreSQL test database, migrated to head once per run."""
    url = require_postgres()
    run_migrations(url)
    return url


def truncate_all(url: str) -> None:
    """Empty every table of the PostgreSQL test database and restart its ids."""
    from booking.models import Base

    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database for one test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    truncate_all(url)
    return url


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator:
    """The app on a fresh database, inside an app context."""
    from booking import create_app
    from booking.extensions import db

    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        MAIL_DIR=str(tmp_path / "mail"),
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client for ``app``."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for ``app``'s flask commands."""
    return app.test_cli_runner()


def make_pg_database(base_url: str, name: str) -> str:
    """Create (or re-create) an empty database next to ``base_url``; return its URL."""
    url = make_url(base_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)
