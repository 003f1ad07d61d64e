"""Issue 12, findings 5-8: sessions end on the server, secret keys, sign-in limits, no account
enumeration."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time

import pytest
from flask import g
from sqlalchemy import func, select

from booking import create_app
from booking.extensions import db
from booking.models import OutboxMessage, User
from booking.models.access import ApiToken
from booking.services import patients
from tests.integration.clinic import PASSWORD, build_clinic, token_for


@pytest.fixture
def clinic(app):
    return build_clinic()


def forget_loaded_user() -> None:
    """Drop the user Flask-Login keeps in ``g``: the test's app context outlives each request, so
    without this a request would reuse the user the previous one loaded instead of its cookies."""
    g.pop("_login_user", None)


def login(client, email, password=PASSWORD, remember=False, **kwargs):
    forget_loaded_user()
    data = {"email": email, "password": password, "next": ""}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data, **kwargs)


def signed_in(client) -> bool:
    """Whether the client's cookies open the patient's page."""
    forget_loaded_user()
    return client.get("/me").status_code == 200


def opens(client, path: str) -> bool:
    """Whether the client's cookies open ``path`` (a signed-out visitor is sent to sign in)."""
    forget_loaded_user()
    return client.get(path).status_code == 200


def api_works(client, token: str) -> bool:
    forget_loaded_user()
    return client.get("/api/v1/appointments", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def new_token(app, email: str) -> str:
    """A bearer token asked for by a fresh client (no browser session)."""
    forget_loaded_user()
    return token_for(app.test_client(), email)


def cookie_client(app, name: str, value: str):
    """A new browser holding only one cookie."""
    other = app.test_client()
    other.set_cookie(name, value)
    return other


# --- 5. sessions end on the server ------------------------------------------------------------
def test_a_session_cookie_copied_before_sign_out_no_longer_works_after_it(app, client, clinic):
    assert login(client, clinic.patient.email).status_code == 302
    copied = client.get_cookie("session").value
    assert signed_in(cookie_client(app, "session", copied))
    forget_loaded_user()
    client.post("/logout")
    assert not signed_in(cookie_client(app, "session", copied))


def test_the_remember_cookie_is_samesite_lax_and_ends_with_sign_out(app, client, clinic):
    response = login(client, clinic.patient.email, remember=True)
    remember = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token=")]
    assert remember and "SameSite=Lax" in remember[0] and "HttpOnly" in remember[0]
    copied = client.get_cookie("remember_token").value
    assert signed_in(cookie_client(app, "remember_token", copied))
    forget_loaded_user()
    client.post("/logout")
    assert not signed_in(cookie_client(app, "remember_token", copied))


def test_production_sends_the_remember_cookie_only_over_https():
    from config import ProductionConfig

    assert ProductionConfig.REMEMBER_COOKIE_SECURE is True
    assert ProductionConfig.REMEMBER_COOKIE_SAMESITE == "Lax"


def test_a_password_reset_ends_every_session_remember_cookie_and_api_token(app, client, clinic):
    login(client, clinic.patient.email, remember=True)
    remember = client.get_cookie("remember_token").value
    token = new_token(app, clinic.patient.email)
    assert signed_in(client) and api_works(app.test_client(), token)

    link = patients._serializer(app.config["SECRET_KEY"]).dumps(
        {"user": clinic.patient.id, "fp": patients._fingerprint(clinic.patient)})
    done = app.test_client().post(f"/reset/{link}", data={"password": "a-new-password", "confirm": "a-new-password"})
    assert done.status_code == 302 and done.headers["Location"] == "/login"

    assert not signed_in(client)
    assert not signed_in(cookie_client(app, "remember_token", remember))
    assert not api_works(app.test_client(), token)
    assert db.session.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.user_id == clinic.patient.id, ApiToken.revoked_at.is_(None))) == 0
    assert login(app.test_client(), clinic.patient.email, "a-new-password").status_code == 302


def test_an_admins_password_change_ends_the_users_sessions_and_tokens(app, client, clinic):
    login(client, clinic.receptionist.email, remember=True)
    remember = client.get_cookie("remember_token").value
    token = new_token(app, clinic.receptionist.email)
    assert opens(client, "/calendar")

    admin = app.test_client()
    login(admin, clinic.admin.email)
    forget_loaded_user()
    saved = admin.post(f"/admin/users/{clinic.receptionist.id}", data={
        "name": clinic.receptionist.name, "email": clinic.receptionist.email, "phone": "",
        "role": "receptionist", "active": "y", "password": "chosen-by-admin"})
    assert saved.status_code == 302 and saved.headers["Location"] == f"/admin/users/{clinic.receptionist.id}"

    assert not opens(client, "/calendar")
    assert not opens(cookie_client(app, "remember_token", remember), "/calendar")
    assert not api_works(app.test_client(), token)
    # The admin who made the change stays signed in.
    assert opens(admin, "/admin/users")


def test_an_admin_changing_their_own_password_stays_signed_in_here_only(app, clinic):
    here, elsewhere = app.test_client(), app.test_client()
    login(here, clinic.admin.email)
    login(elsewhere, clinic.admin.email)
    forget_loaded_user()
    here.post(f"/admin/users/{clinic.admin.id}", data={
        "name": clinic.admin.name, "email": clinic.admin.email, "phone": "", "role": "admin", "active": "y",
        "password": "my-new-password"})
    assert opens(here, "/admin/users")
    assert not opens(elsewhere, "/admin/users")


# --- 6. secret keys ---------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["x", "dev-only-not-secret", "short-but-not-empty-0123456789"])
def test_production_refuses_a_short_or_known_secret_key(monkeypatch, tmp_path, key):
    monkeypatch.setenv("SECRET_KEY", key)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite3'}")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_production_refuses_a_known_default_even_when_long(monkeypatch, tmp_path):
    from config import KNOWN_SECRET_KEYS

    long_default = next(k for k in KNOWN_SECRET_KEYS if len(k) >= 32)
    monkeypatch.setenv("SECRET_KEY", long_default)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite3'}")
    with pytest.raises(RuntimeError, match="known"):
        create_app("production")


def test_development_makes_a_random_secret_key_once_and_keeps_it_in_instance(monkeypatch, tmp_path):
    import config

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path / "instance")
    url = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    first = create_app("development", SQLALCHEMY_DATABASE_URI=url)
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.config["SECRET_KEY"]
    assert len(key.encode()) >= 32 and key != "dev-only-not-secret"
    second = create_app("development", SQLALCHEMY_DATABASE_URI=url)
    assert second.config["SECRET_KEY"] == key
    key_file.unlink()
    assert create_app("development", SQLALCHEMY_DATABASE_URI=url).config["SECRET_KEY"] != key


# --- 7. sign-in limits ------------------------------------------------------------------------
def limited_app(database_url, **settings):
    return create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_ENABLED=True, **settings)


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_successful_sign_ins_from_one_office_address_do_not_count(database_url):
    app = limited_app(database_url, RATELIMIT_LOGIN="3 per minute", RATELIMIT_LOGIN_ACCOUNT="3 per minute")
    with app.app_context():
        clinic = build_clinic()
        db.session.commit()
        staff = [clinic.receptionist, clinic.admin, clinic.anna.user, clinic.bruno.user, clinic.patient]
        statuses = []
        for user in staff + staff:
            browser = app.test_client()
            statuses.append(login(browser, user.email, **from_address("198.51.100.4")).status_code)
            forget_loaded_user()
            statuses.append(app.test_client().post("/api/v1/tokens", json={"email": user.email, "password": PASSWORD},
                                         **from_address("198.51.100.4")).status_code)
        assert set(statuses) == {302, 201}
        db.session.remove()
        db.engine.dispose()


def test_failed_sign_ins_are_limited_per_account_from_any_address_web_and_api_together(database_url):
    app = limited_app(database_url, RATELIMIT_LOGIN="100 per minute", RATELIMIT_LOGIN_ACCOUNT="3 per minute")
    with app.app_context():
        clinic = build_clinic()
        db.session.commit()
        client = app.test_client()
        wrong = [login(client, clinic.patient.email, "wrong", **from_address("203.0.113.1")).status_code,
                 client.post("/api/v1/tokens", json={"email": clinic.patient.email, "password": "wrong"},
                             **from_address("203.0.113.2")).status_code,
                 login(client, clinic.patient.email.upper(), "wrong", **from_address("203.0.113.3")).status_code]
        assert wrong == [200, 401, 200]
        assert login(client, clinic.patient.email, **from_address("203.0.113.4")).status_code == 429
        assert client.post("/api/v1/tokens", json={"email": clinic.patient.email, "password": PASSWORD},
                           **from_address("203.0.113.5")).status_code == 429
        # Another account is not held back by this one's failures.
        assert login(app.test_client(), clinic.other_patient.email, **from_address("203.0.113.4")).status_code == 302
        db.session.remove()
        db.engine.dispose()


def test_failed_sign_ins_are_limited_per_address_across_accounts(database_url):
    app = limited_app(database_url, RATELIMIT_LOGIN="3 per minute", RATELIMIT_LOGIN_ACCOUNT="100 per minute")
    with app.app_context():
        build_clinic()
        db.session.commit()
        client = app.test_client()
        statuses = [login(client, f"guess{n}@example.com", "wrong", **from_address("192.0.2.9")).status_code
                    for n in range(3)]
        statuses.append(client.post("/api/v1/tokens", json={"email": "guess9@example.com", "password": "x"},
                                    **from_address("192.0.2.9")).status_code)
        assert statuses == [200, 200, 200, 429]
        assert login(client, "guess0@example.com", "wrong", **from_address("192.0.2.10")).status_code == 200
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def redis_url(tmp_path):
    """A throwaway Redis server (the production storage of rate-limit counters)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_failed_sign_ins_count_across_servers_through_the_configured_storage(database_url, redis_url):
    settings = dict(RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_LOGIN="100 per minute",
                    RATELIMIT_LOGIN_ACCOUNT="2 per minute")
    first, second = limited_app(database_url, **settings), limited_app(database_url, **settings)
    with first.app_context():
        clinic = build_clinic()
        db.session.commit()
        email = clinic.patient.email
    with first.app_context():
        assert login(first.test_client(), email, "wrong", **from_address("203.0.113.1")).status_code == 200
    with second.app_context():
        assert login(second.test_client(), email, "wrong", **from_address("203.0.113.2")).status_code == 200
    with first.app_context():
        assert login(first.test_client(), email, **from_address("203.0.113.3")).status_code == 429
        db.session.remove()
        db.engine.dispose()
    with second.app_context():
        db.session.remove()
        db.engine.dispose()


# --- 8. no account enumeration -------------------------------------------------------------
def count_hash_checks(monkeypatch) -> list[str]:
    """Record every password-hash check (the slow part of a sign-in)."""
    from booking.models import people

    calls: list[str] = []
    real = people.check_password_hash

    def spy(pwhash, password):
        calls.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(people, "check_password_hash", spy)
    return calls


def test_an_unknown_email_costs_a_hash_check_like_a_known_one(app, client, clinic, monkeypatch):
    calls = count_hash_checks(monkeypatch)
    known = login(client, clinic.patient.email, "wrong").get_data(as_text=True)
    unknown = login(client, "nobody@example.com", "wrong").get_data(as_text=True)
    assert len(calls) == 2 and calls[0] == calls[1]
    assert known.replace(clinic.patient.email, "nobody@example.com") == unknown
    calls.clear()
    known_api = client.post("/api/v1/tokens", json={"email": clinic.patient.email, "password": "wrong"})
    unknown_api = client.post("/api/v1/tokens", json={"email": "nobody@example.com", "password": "wrong"})
    assert (known_api.status_code, known_api.get_json()) == (unknown_api.status_code, unknown_api.get_json())
    assert len(calls) == 2 and calls[0] == calls[1]


def test_an_account_without_a_password_costs_a_hash_check_too(app, client, clinic, monkeypatch):
    clinic.other_patient.password_hash = ""
    db.session.commit()
    calls = count_hash_checks(monkeypatch)
    assert login(client, clinic.other_patient.email, "").status_code == 200
    assert login(client, clinic.other_patient.email, "anything").status_code == 200
    assert len(calls) == 1


def register(client, email, name="Paola Again", password="long-enough-pw"):
    return client.post("/register?next=/book/review", data={
        "name": name, "email": email, "phone": "+39 333 1234567", "password": password,
        "confirm": password, "next": "/book/review"})


def test_registering_a_taken_email_answers_like_a_new_one_and_tells_the_owner(app, client, clinic):
    owner = clinic.patient
    before = (owner.name, owner.password_hash, owner.phone)
    taken = register(client, owner.email.upper())
    fresh = register(app.test_client(), "brand-new@example.com")
    assert (taken.status_code, taken.headers["Location"]) == (fresh.status_code, fresh.headers["Location"]) \
        == (302, "/book/review")
    assert "already" not in taken.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == owner.email)) == 1
    assert (owner.name, owner.password_hash, owner.phone) == before
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == owner.email)).all()
    assert [m.kind for m in mails] == ["account.registration_attempt"]
    assert "sign in" in mails[0].body_text.lower() and "/reset" in mails[0].body_text
    assert "Paola Again" not in mails[0].body_text  # nothing typed by the stranger is mailed on
    assert not db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == "brand-new@example.com")).all()
