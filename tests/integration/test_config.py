"""Production refuses to start without its secrets."""

from __future__ import annotations

import pytest

from config import normalise_database_url


def test_production_refuses_to_start_without_secret_key_and_database_url(monkeypatch):
    from booking import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY, DATABASE_URL"):
        create_app("production")


def test_production_starts_with_both(monkeypatch, tmp_path):
    from booking import create_app

    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite3'}")
    monkeypatch.setenv("SMTP_HOST", "smtp.clinic.example")  # production needs a mail transport
    app = create_app("production", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.sqlite3'}")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SECRET_KEY"] == "x" * 32


def test_unknown_config_name_is_refused():
    from booking import create_app

    with pytest.raises(RuntimeError, match="Unknown configuration"):
        create_app("staging")


@pytest.mark.parametrize("url, expected", [
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_database_urls_use_psycopg3(url, expected):
    assert normalise_database_url(url) == expected


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(tmp_path):
    from flask import request

    from booking import create_app

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.sqlite3'}", PROXY_HOPS=1)

    @app.route("/whoami")
    def whoami():
        return f"{request.remote_addr} {request.scheme}"

    headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    assert app.test_client().get("/whoami", headers=headers).get_data(as_text=True) == "203.0.113.7 https"
