"""The demo clinic, user creation, the home page and the production guard."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Appointment, Practitioner, Room, Treatment, User


def test_seed_demo_creates_the_catalog_and_two_weeks_of_appointments(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin@clinic.example" in result.output
    slugs = set(db.session.scalars(select(Treatment.slug)))
    assert slugs == {
        "consultation", "mesotherapy-face", "mesotherapy-scalp", "mesotherapy-body",
        "polynucleotides-eyes", "microneedling-face",
    }
    face = db.session.scalar(select(Treatment).where(Treatment.slug == "mesotherapy-face"))
    protocol = face.protocol
    assert (protocol.sessions, protocol.interval_min_days, protocol.interval_target_days,
            protocol.interval_max_days, protocol.aftercare_hours) == (4, 10, 14, 21, 72)
    assert [(r.instruction, r.lead_hours) for r in protocol.prep_rules] == [
        ("Stop aspirin/NSAIDs, fish oil and vitamin E", 168), ("No retinoids or acids", 72), ("No alcohol", 24)
    ]
    assert protocol.consultation_treatment.slug == "consultation"
    assert (protocol.consultation_min_days_before, protocol.consultation_valid_days) == (2, 180)
    assert db.session.scalar(select(func.count()).select_from(Practitioner)) == 3
    assert db.session.scalar(select(func.count()).select_from(Room)) == 2
    roles = set(db.session.scalars(select(User.role)))
    assert roles == {"admin", "receptionist", "practitioner", "patient"}
    starts = list(db.session.scalars(select(Appointment.start_at)))
    assert len(starts) > 20
    assert (max(starts) - min(starts)).days >= 13


def test_seed_demo_refuses_a_non_empty_database(runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "not empty" in result.output
    assert runner.invoke(args=["seed-demo", "--if-empty"]).exit_code == 0


def test_seed_demo_refuses_production(app, runner):
    app.config["BOOKING_ENV"] = "production"
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "production" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_users_create_makes_a_user_who_can_sign_in(runner):
    result = runner.invoke(args=["users", "create", "--email", "Dr.Who@Example.com", "--password",
                                 "s3cret-pass", "--role", "practitioner", "--name", "Dr Who"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "dr.who@example.com"))
    assert user.check_password("s3cret-pass") and not user.check_password("wrong")
    assert user.practitioner is not None
    again = runner.invoke(args=["users", "create", "--email", "dr.who@example.com", "--password",
                                "s3cret-pass", "--role", "admin"])
    assert again.exit_code != 0 and "already exists" in again.output


@pytest.mark.parametrize("args, message", [
    (["--email", "nobody", "--password", "long-enough", "--role", "admin"], "@"),
    (["--email", "a@b.c", "--password", "short", "--role", "admin"], "8 characters"),
    (["--email", "a@b.c", "--password", "long-enough", "--role", "wizard"], "wizard"),
])
def test_users_create_rejects_bad_input(runner, args, message):
    result = runner.invoke(args=["users", "create", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_home_page_lists_treatments_with_their_protocol_in_plain_words(runner, client):
    runner.invoke(args=["seed-demo"])
    page = client.get("/?lang=en").get_data(as_text=True)  # the demo speaks Italian unless asked
    assert "Villa Rosa Aesthetic Clinic" in page
    assert "Mesotherapy, face" in page
    assert "4 sessions, about every 2 weeks" in page
    assert "Stop aspirin/NSAIDs, fish oil and vitamin E: 7 days before" in page
    assert "10 sessions, about every week" in page


def test_home_page_of_an_empty_clinic_says_how_to_start(client):
    page = client.get("/").get_data(as_text=True)
    assert "flask seed-demo" in page


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_unknown_page_is_a_clear_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Not Found" in response.get_data(as_text=True)
