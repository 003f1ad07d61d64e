"""The per-process cache of the clinic's scheduling rules (booking/services/rule_cache.py).

Each process reuses the rules it loaded while ``clinic_settings.rules_version`` is unchanged;
every write to a rule row renews the stamp in the same transaction. These tests check both
halves: the stamp moves exactly when rules change, and answers follow a change made after the
cache was filled, including one made by another process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import time
from pathlib import Path

from sqlalchemy import select

from booking.extensions import db
from booking.models import ClinicSettings, TimeOff
from booking.services import schedule_admin
from booking.services.actor import Actor
from tests.integration.clinic import Api, at, build_clinic, monday_in

ROOT = Path(__file__).resolve().parents[2]


def stamp() -> str:
    """The clinic's rules stamp as stored (read in a fresh transaction)."""
    db.session.rollback()
    return db.session.scalar(select(ClinicSettings.rules_version))


def free_starts(api: Api, practitioner_id: int, day) -> list[str]:
    """Local "HH:MM" consultation starts of one practitioner on ``day``."""
    response = api.get(f"/availability?treatment=consultation&start={day}&end={day}&practitioner={practitioner_id}")
    assert response.status_code == 200, response.get_json()
    return [s["start"][11:16] for s in response.get_json()["slots"]]


def test_rule_writes_renew_the_stamp_and_bookings_do_not(app, client):
    clinic = build_clinic()
    admin = Actor.of(clinic.admin)
    first = stamp()
    assert first

    staff = Api(client, "rita@example.com")
    booked = staff.post("/appointments", json={
        "treatment": "consultation", "start": at(monday_in(2), 10).isoformat(),
        "practitioner_id": clinic.anna.id, "patient_id": clinic.patient.id,
    })
    assert booked.status_code == 201, booked.get_json()
    assert stamp() == first  # appointments are not rules

    schedule_admin.add_time_off(admin, clinic.anna.id, start=at(monday_in(3), 9), end=at(monday_in(3), 12))
    second = stamp()
    assert second != first

    time_off = db.session.scalar(select(TimeOff))
    schedule_admin.remove_entry(admin, "time_off", time_off.id)
    assert stamp() not in (first, second)


def test_answers_follow_hours_changed_after_the_rules_were_cached(app, client):
    clinic = build_clinic()
    api = Api(client, "rita@example.com")
    day = monday_in(2)
    before = free_starts(api, clinic.anna.id, day)
    assert "09:00" in before and "14:00" in before

    # Mondays become afternoons only (weekday 0), the rest of the week as it was.
    week = {d: [(time(9), time(17))] for d in range(5)}
    week[0] = [(time(14), time(17))]
    schedule_admin.set_weekly_hours(Actor.of(clinic.admin), clinic.anna.id, hours=week,
                                    breaks={d: [(time(13), time(14))] for d in range(1, 5)})

    after = free_starts(api, clinic.anna.id, day)
    assert "09:00" not in after and after[0] == "14:00"
    # Booking checks the same rules: the morning is now outside Anna's hours.
    refused = api.post("/appointments", json={
        "treatment": "consultation", "start": at(day, 9).isoformat(),
        "practitioner_id": clinic.anna.id, "patient_id": clinic.patient.id,
    })
    assert refused.status_code == 422 and "outside_hours" in str(refused.get_json())


def test_a_change_made_by_another_process_is_seen_at_once(app, client, database_url):
    clinic = build_clinic()
    api = Api(client, "rita@example.com")
    day = monday_in(2)
    assert "10:00" in free_starts(api, clinic.bruno.id, day)  # the rules are now cached here

    script = textwrap.dedent(f"""
        from datetime import datetime, timezone
        from booking import create_app
        from booking.services import schedule_admin
        from booking.services.actor import Actor
        app = create_app("testing", SQLALCHEMY_DATABASE_URI={database_url!r})
        with app.app_context():
            schedule_admin.add_time_off(Actor({clinic.admin.id}, "admin"), {clinic.bruno.id},
                start=datetime.fromisoformat({at(day, 9).isoformat()!r}),
                end=datetime.fromisoformat({at(day, 13).isoformat()!r}), reason="dentist")
    """)
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=120)
    # A served request has a session of its own; the test client shares the test's app
    # context (and so its session), so end that session as the end of a request would.
    db.session.remove()

    after = free_starts(api, clinic.bruno.id, day)
    assert "10:00" not in after and "09:00" not in after
    assert "14:00" in after


def test_importing_the_repository_registers_nothing_create_app_installs_the_stamp_hook():
    script = textwrap.dedent("""
        from sqlalchemy import event
        from sqlalchemy.orm import Session
        from booking.services import rule_cache
        hooked = lambda: event.contains(Session, "before_flush", rule_cache._renew_on_rule_writes)
        assert not hooked(), "registered as a side effect of the import"
        from booking import create_app
        create_app("testing")
        assert hooked()
    """)
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=120)
