"""No double booking under real concurrency (DESIGN §3): many clients racing for one slot.

Every race goes through the real stack -- a real HTTP server with one thread per request, or
separate processes with their own app and connection pool -- against one database file
(SQLite, writes serialized by BEGIN IMMEDIATE) or PostgreSQL (exclusion constraints).
Exactly one contender wins, every other one gets 409 ``slot_taken``, and a loser leaves
nothing behind: no appointment, no series, no outbox mail, no audit event.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import threading
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from booking.extensions import db
from booking.models import Appointment, AuditEvent, Intake, OutboxMessage, Series
from booking.models.appointments import BLOCKING_STATUSES
from tests.integration.clinic import at, book_consultation, build_clinic, monday_in, token_for
from tests.integration.factories import make_user

pytestmark = pytest.mark.slow

THREADS = 24
PROCESSES = 4
BARRIER_TIMEOUT = 60  # seconds; a contender that never arrives breaks the barrier instead of hanging
REQUEST_TIMEOUT = 60


# --- fixtures -------------------------------------------------------------------------------
@pytest.fixture
def fast_passwords(monkeypatch):
    """Cheap password hashes for the many test patients (scrypt costs ~0.1 s per user)."""
    monkeypatch.setattr("booking.models.people.generate_password_hash",
                        partial(generate_password_hash, method="pbkdf2:sha256:1"))


@pytest.fixture
def clinic(app, fast_passwords):
    return build_clinic()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app behind a real, threaded HTTP server on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# --- helpers --------------------------------------------------------------------------------
def http_post(base_url: str, path: str, payload: dict, token: str) -> tuple[int, dict]:
    """POST JSON over a fresh HTTP connection; the status and the decoded JSON body."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("POST", f"/api/v1{path}", body=json.dumps(payload), headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json",
        })
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}
    finally:
        connection.close()


def new_patients(client, n: int, *, consultation_at: list[datetime] | None = None, clinic=None,
                 use_tokens: bool = True) -> list[dict]:
    """``n`` committed patients, each with a token (and a completed consultation if asked).

    With ``use_tokens`` each token is used once before it is returned, as a signed-in client
    would have done: the first use of a token writes its last-used time, and the races below
    are about booking, not about that write (see the token test at the end).
    """
    users = []
    for i in range(n):
        user = make_user(name=f"Racer Patient{i}")
        db.session.add(Intake(patient_id=user.id, answers={"pregnant": False}))
        users.append(user)
    db.session.commit()
    patients = []
    for i, user in enumerate(users):
        if consultation_at is not None:
            book_consultation(clinic, user, consultation_at[i])
        token = token_for(client, user.email)
        if use_tokens:
            assert client.get("/api/v1/appointments", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        patients.append({"id": user.id, "email": user.email, "token": token})
    return patients


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def fresh_session() -> None:
    """Forget what the test's session read before the race, so counts come from the database."""
    db.session.rollback()
    db.session.expire_all()


def race(n: int, contender) -> list:
    """Run ``contender(i, barrier)`` for i in range(n) on n threads; results in order.

    A contender waits at the barrier just before its request, so the requests start together.
    """
    barrier = threading.Barrier(n, timeout=BARRIER_TIMEOUT)
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(contender, i, barrier) for i in range(n)]
        return [f.result(timeout=BARRIER_TIMEOUT + REQUEST_TIMEOUT) for f in futures]


def assert_one_winner(results: list[tuple[int, dict]]) -> int:
    """Exactly one 201, every other answer 409 slot_taken; returns the winner's position."""
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (len(results) - 1), [
        (status, body.get("error", body)) for status, body in results if status not in (201, 409)
    ] or statuses
    for status, body in results:
        if status == 409:
            problems = body["error"]["problems"]
            assert problems and {p["code"] for p in problems} == {"slot_taken"}, body
    return next(i for i, (status, _) in enumerate(results) if status == 201)


# --- one slot, many threads over HTTP -------------------------------------------------------
def test_many_threads_racing_for_one_slot_over_http_book_it_once(app, client, clinic, live_server):
    start = at(monday_in(2), 10)
    payload = {"treatment": "consultation", "start": start.isoformat(), "practitioner_id": clinic.anna.id}
    patients = new_patients(client, THREADS)
    anna_id = clinic.anna.id
    fresh_session()

    def contender(i: int, barrier: threading.Barrier) -> tuple[int, dict]:
        barrier.wait()
        return http_post(live_server, "/appointments", payload, patients[i]["token"])

    results = race(THREADS, contender)
    winner = assert_one_winner(results)
    for status, body in results:
        if status == 409:
            assert body["error"]["code"] == "slot_taken", body

    fresh_session()
    rows = db.session.scalars(select(Appointment).where(
        Appointment.practitioner_id == anna_id, Appointment.status.in_(BLOCKING_STATUSES))).all()
    assert [(r.patient_id, r.start_at) for r in rows] == [(patients[winner]["id"], start)]
    assert results[winner][1]["id"] == rows[0].id
    # The losers left nothing behind: one appointment, its audit event and its mail only.
    assert count(Appointment) == 1
    assert count(AuditEvent, AuditEvent.patient_id != patients[winner]["id"]) == 0
    assert {m.appointment_id for m in db.session.scalars(select(OutboxMessage))} == {rows[0].id}


# --- one slot, separate processes ------------------------------------------------------------
def _book_in_another_process(database_url: str, mail_dir: str, token: str, payload: dict,
                             barrier, results) -> None:
    """A spawned contender: its own app and connection pool, booking through its own test client."""
    try:
        from booking import create_app
        from booking.extensions import db as child_db

        app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, MAIL_DIR=mail_dir)
        # No app context around the client: each request gets its own, as behind a real server,
        # so each request's session (and transaction) ends with the request.
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        # Warm up the whole booking path (imports, connection, compiled queries) with a request
        # the rules refuse (a start in the past), so the real requests start together.
        past = {**payload, "start": (datetime.fromisoformat(payload["start"]) - timedelta(days=365)).isoformat()}
        warm_up = client.post("/api/v1/appointments", json=past, headers=headers)
        assert warm_up.status_code == 422, warm_up.get_json()
        barrier.wait(timeout=BARRIER_TIMEOUT)
        response = client.post("/api/v1/appointments", json=payload, headers=headers)
        results.put((token, response.status_code, response.get_json()))
        with app.app_context():
            child_db.engine.dispose()
    except BaseException:  # noqa: BLE001 -- the parent reports it
        barrier.abort()  # the others stop waiting for this contender
        results.put((token, None, traceback.format_exc()))


def test_separate_processes_racing_for_one_slot_book_it_once(app, client, clinic, database_url, tmp_path):
    start = at(monday_in(2), 11)
    payload = {"treatment": "consultation", "start": start.isoformat(), "practitioner_id": clinic.anna.id}
    patients = new_patients(client, PROCESSES)
    by_token = {p["token"]: p for p in patients}
    anna_id = clinic.anna.id
    fresh_session()

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    queue = context.Queue()
    processes = [
        context.Process(target=_book_in_another_process, name=f"contender-{n}", daemon=True,
                        args=(database_url, str(tmp_path / f"mail-{n}"), p["token"], payload, barrier, queue))
        for n, p in enumerate(patients)
    ]
    for process in processes:
        process.start()
    try:
        answers = [queue.get(timeout=BARRIER_TIMEOUT + REQUEST_TIMEOUT) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        queue.close()
        queue.join_thread()
    crashed = [body for _, status, body in answers if status is None]
    assert not crashed, "\n".join(crashed)
    assert [p.exitcode for p in processes] == [0] * PROCESSES

    results = [(status, body) for _, status, body in answers]
    winner = assert_one_winner(results)
    winner_id = by_token[answers[winner][0]]["id"]
    fresh_session()
    rows = db.session.scalars(select(Appointment).where(
        Appointment.practitioner_id == anna_id, Appointment.status.in_(BLOCKING_STATUSES))).all()
    assert [(r.patient_id, r.start_at) for r in rows] == [(winner_id, start)]
    assert count(Appointment) == 1
    assert {m.appointment_id for m in db.session.scalars(select(OutboxMessage))} == {rows[0].id}


# --- overlapping series ---------------------------------------------------------------------
# (hour of the round, contenders). Contender 0 books 10:00-style sessions on Mondays; contender
# k books its first three sessions k days later (Tue, Wed, ...) and its last one at exactly the
# time of contender 0's last session: the series overlap in that one session only.
ROUNDS = [(9, 2), (10, 2), (11, 2), (12, 4)]


def series_starts(hour: int, contender: int) -> list[datetime]:
    first = monday_in(3)
    starts = [at(first + timedelta(days=14 * i + contender), hour) for i in range(3)]
    return starts + [at(first + timedelta(days=42), hour)]


def test_overlapping_series_booked_at_once_one_is_booked_whole_the_others_leave_nothing(
        app, client, clinic, live_server):
    consultation_day = monday_in(2)
    total = sum(n for _, n in ROUNDS)
    # A completed consultation a week before the first session, one every 30 minutes on Bruno.
    consultations = [at(consultation_day, 0) + timedelta(minutes=30 * i) for i in range(total)]
    patients = new_patients(client, total, consultation_at=consultations, clinic=clinic)
    face_id, anna_id = clinic.face.id, clinic.anna.id
    fresh_session()

    used = 0
    for hour, n in ROUNDS:
        contenders = patients[used:used + n]
        used += n
        payloads = [{"treatment": "mesotherapy-face", "sessions": [
            {"start": s.isoformat(), "practitioner_id": anna_id} for s in series_starts(hour, k)]}
            for k in range(n)]

        def contender(i: int, barrier: threading.Barrier) -> tuple[int, dict]:
            barrier.wait()
            return http_post(live_server, "/series", payloads[i], contenders[i]["token"])  # noqa: B023

        results = race(n, contender)
        winner = assert_one_winner(results)
        for status, body in results:
            if status == 409:
                assert {p["session_index"] for p in body["error"]["problems"]} == {3}, body

        fresh_session()
        for k, patient in enumerate(contenders):
            patient_face = Appointment.patient_id == patient["id"], Appointment.treatment_id == face_id
            series = db.session.scalars(select(Series).where(Series.patient_id == patient["id"])).all()
            mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == patient["email"])).all()
            audits = count(AuditEvent, AuditEvent.patient_id == patient["id"])
            if k == winner:
                booked = db.session.scalars(select(Appointment).where(*patient_face)
                                            .order_by(Appointment.start_at)).all()
                assert [a.start_at for a in booked] == series_starts(hour, k), (hour, k)
                assert [a.series_index for a in booked] == [0, 1, 2, 3]
                assert len(series) == 1 and {a.series_id for a in booked} == {series[0].id}
                assert results[k][1]["id"] == series[0].id
                assert sorted(m.kind for m in mails) == ["appointment.booked"] * 4 + ["series.booked"]
                assert audits == 5
            else:
                assert (count(Appointment, *patient_face), len(series), len(mails), audits) == (0, 0, 0, 0), \
                    f"round at {hour}:00, contender {k} lost but left rows behind"
        # Nobody else holds the shared last session.
        last = series_starts(hour, 0)[3]
        holders = db.session.scalars(select(Appointment.patient_id).where(
            Appointment.practitioner_id == anna_id, Appointment.start_at == last,
            Appointment.status.in_(BLOCKING_STATUSES))).all()
        assert holders == [contenders[winner]["id"]]

    assert count(Series) == len(ROUNDS)
    assert count(Appointment, Appointment.treatment_id == face_id) == 4 * len(ROUNDS)


# --- signing in and first use of tokens at once -------------------------------------------------
# Regression tests: on SQLite both answered 500 "database is locked" while booking/services/
# tokens.py wrote (a new token; a token's last-used time) inside a deferred transaction that had
# already read -- a concurrent writer makes SQLite refuse that upgrade at once
# (SQLITE_BUSY_SNAPSHOT; busy_timeout does not apply) instead of letting it wait its turn.
def http_get(base_url: str, path: str, token: str) -> tuple[int, dict]:
    """GET over a fresh HTTP connection; the status and the decoded JSON body."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("GET", f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}
    finally:
        connection.close()


def test_many_new_tokens_used_at_once_are_never_a_server_error(app, client, clinic, live_server):
    """Signed-in clients that call at the same moment all get their answer, none a 500 (each
    token's first use records its last-used time, a write)."""
    patients = new_patients(client, THREADS, use_tokens=False)
    fresh_session()

    def contender(i: int, barrier: threading.Barrier) -> tuple[int, dict]:
        barrier.wait()
        return http_get(live_server, "/appointments", patients[i]["token"])

    results = race(THREADS, contender)
    assert [status for status, _ in results] == [200] * THREADS, [b for s, b in results if s != 200][:1]


def test_patients_signing_in_at_once_all_get_a_token(app, live_server):
    """Eight patients asking for a token at the same moment (real password hashing) get 201 each."""
    build_clinic()
    users = [make_user(name=f"Early Bird{i}") for i in range(8)]
    db.session.commit()
    emails = [u.email for u in users]
    fresh_session()

    def contender(i: int, barrier: threading.Barrier) -> tuple[int, dict]:
        url = urlsplit(live_server)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=REQUEST_TIMEOUT)
        try:
            body = json.dumps({"email": emails[i], "password": "password123"})
            barrier.wait()
            connection.request("POST", "/api/v1/tokens", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    results = race(len(emails), contender)
    assert [status for status, _ in results] == [201] * len(emails), [b for s, b in results if s != 201][:1]
