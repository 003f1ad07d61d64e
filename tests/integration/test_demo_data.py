"""The demo clinic obeys its own rules: the rule book's own whole-booking check, run over every
seeded appointment, finds nothing but what concerns the moment of booking; every treatment
session belongs to a series; one consultation per patient; no session too close to the one
before it; nothing on a public holiday. The demo speaks Italian, with English one click away.

Seeded at a fixed day in March and just before Christmas (when a series planned at its target
interval would otherwise land on the 25th or 26th), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from html import unescape

import holidays
import pytest
from sqlalchemy import select

from booking.demo import COURSES, PATIENTS, seed_demo
from booking.extensions import db
from booking.models import Appointment, ClinicClosure, OutboxMessage, Recall, Series, Treatment, User
from booking.scheduling import ProposedSession, check_booking
from booking.scheduling.clock import local_date
from booking.scheduling.problems import IN_PAST, MIN_NOTICE, PREP_WINDOW
from booking.services import schedules
from booking.services.clinic import get_settings
from booking.services.loading import load_context, patient_facts

TZ = "Europe/Rome"
MARCH = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
BEFORE_CHRISTMAS = datetime(2026, 12, 20, 10, 0, tzinfo=UTC)
# Rules about *when a booking is made*, not where it sits. A session that has happened is in
# the past now (it was booked before it happened), and a session in the coming days was booked
# weeks ago, with the notice and prep time it needed then: only these may be reported.
ABOUT_THE_PAST = {IN_PAST}
ABOUT_THE_MOMENT_OF_BOOKING = {MIN_NOTICE, PREP_WINDOW}


def appointments() -> list[Appointment]:
    return list(db.session.scalars(select(Appointment).order_by(Appointment.patient_id, Appointment.start_at)))


def problems_of(appointment: Appointment, now: datetime) -> list:
    """The rule book's whole-booking check, as if ``appointment`` were booked now where it is,
    with every other appointment as booked and its series neighbours around it."""
    treatment = appointment.treatment
    spec = schedules.treatment_spec(treatment)
    context = load_context(appointment.start_at, appointment.end_at, treatment_id=treatment.id,
                           patient_id=appointment.patient_id)
    itself = frozenset({appointment.id})
    facts = patient_facts(appointment.patient_id, treatment, ignore_ids=itself)
    before = after = None
    if appointment.series is not None:
        siblings = {a.series_index: a.start_at for a in appointment.series.appointments if a.id != appointment.id}
        before = siblings.get(appointment.series_index - 1)
        after = siblings.get(appointment.series_index + 1)
    session = ProposedSession(appointment.start_at, appointment.practitioner_id, appointment.room_id,
                              appointment.series_index)
    return check_booking(
        spec, [session], patient_id=appointment.patient_id, practitioners=context.practitioners,
        rooms=context.rooms, booked=context.booked, policy=context.policy, now=now,
        consultation_starts=facts.consultation_starts, contraindicated_ids=facts.contraindicated_ids,
        intake_missing=facts.intake_missing, ignore_ids=itself, neighbours_before=before, neighbours_after=after,
    )


@pytest.mark.parametrize("now", [MARCH, BEFORE_CHRISTMAS], ids=["march", "before-christmas"])
def test_every_seeded_appointment_passes_the_booking_checks(app, now):
    counts = seed_demo(now=now)
    rows = appointments()
    assert counts["appointments"] == len(rows) > 40
    for appointment in rows:
        codes = {p.code for p in problems_of(appointment, now)}
        allowed = ABOUT_THE_PAST if appointment.start_at < now else ABOUT_THE_MOMENT_OF_BOOKING
        assert codes <= allowed, (appointment.patient.name, appointment.treatment.slug, appointment.start_at, codes)
        # What has happened is completed, what has not is still booked.
        assert appointment.status == ("completed" if appointment.end_at <= now else "booked")


@pytest.mark.parametrize("now", [MARCH, BEFORE_CHRISTMAS], ids=["march", "before-christmas"])
def test_patients_are_mid_series_with_one_valid_consultation(app, now):
    seed_demo(now=now)
    by_patient: dict[int, list[Appointment]] = defaultdict(list)
    for appointment in appointments():
        by_patient[appointment.patient_id].append(appointment)
    for patient_id, rows in by_patient.items():
        consultations = [a for a in rows if a.treatment.kind == "consultation"]
        assert len(consultations) == 1, db.session.get(User, patient_id).name
        treatments = [a for a in rows if a.treatment.kind != "consultation"]
        # Every treatment session belongs to a series, in series order.
        assert all(a.series_id is not None for a in treatments)
        assert [a.series_index for a in treatments] == list(range(len(treatments)))
        # No same-treatment pair closer than the protocol allows (nor further apart).
        for earlier, later in zip(treatments, treatments[1:]):
            protocol = earlier.treatment.protocol
            days = (local_date(later.start_at, TZ) - local_date(earlier.start_at, TZ)).days
            assert protocol.interval_min_days <= days <= protocol.interval_max_days
        if treatments:
            protocol = treatments[0].treatment.protocol
            consultation = consultations[0]
            assert consultation.status == "completed"
            days = (local_date(treatments[0].start_at, TZ) - local_date(consultation.start_at, TZ)).days
            assert protocol.consultation_min_days_before <= days <= protocol.consultation_valid_days
    series = list(db.session.scalars(select(Series)))
    assert len(series) == len(COURSES)
    # Mid-course: each series has sessions done and sessions to come; a completed one is due
    # for maintenance (issue 14).
    for row in series:
        statuses = [a.status for a in row.appointments]
        assert len(statuses) == row.treatment.protocol.sessions
        assert statuses == sorted(statuses, key=lambda s: s != "completed")
        if row.status == "completed":
            assert set(statuses) == {"completed"}
            (recall,) = db.session.scalars(select(Recall).where(Recall.series_id == row.id))
            last = max(a.start_at for a in row.appointments)
            assert recall.due_on == local_date(last, TZ) + timedelta(days=row.treatment.protocol.maintenance_interval_days)
        else:
            assert "completed" in statuses and "booked" in statuses, (row.patient.name, statuses)
    assert sum(row.status == "completed" for row in series) >= 1
    assert any(row.course_sessions for row in series)  # a prepaid course
    # Anna, who signs in for the README's walkthrough, has one completed consultation only.
    anna = db.session.scalar(select(User).where(User.email == PATIENTS[0][1]))
    assert [(a.treatment.slug, a.status) for a in by_patient[anna.id]] == [("consultation", "completed")]
    # Some new patients have only a consultation to come.
    upcoming = [rows for rows in by_patient.values() if [a.status for a in rows] == ["booked"]]
    assert len(upcoming) >= 2
    # The made-up history mailed nobody.
    assert db.session.scalar(select(OutboxMessage.id)) is None


@pytest.mark.parametrize("now", [MARCH, BEFORE_CHRISTMAS], ids=["march", "before-christmas"])
def test_the_clinic_is_closed_on_public_holidays_and_nothing_is_booked_then(app, now):
    seed_demo(now=now)
    rome = holidays.country_holidays("IT", subdiv="RM", years=[now.year - 1, now.year, now.year + 1])
    closed = {local_date(c.start_at, TZ): c.reason for c in db.session.scalars(select(ClinicClosure))}
    for day, name in holidays.country_holidays("IT", subdiv="RM", years=[now.year, now.year + 1],
                                               language="it_IT").items():
        assert closed[day] == name
    # Named in the clinic's language, Italian.
    assert closed[datetime(now.year, 12, 25).date()] == "Natale"
    assert closed[datetime(now.year, 6, 29).date()] == "Santi Pietro e Paolo"  # Rome's own
    for appointment in appointments():
        day = local_date(appointment.start_at, TZ)
        assert day not in rome, (appointment.patient.name, day, rome.get(day))
    # The demo's sessions reach past Christmas (so the test above means something there).
    if now == BEFORE_CHRISTMAS:
        assert max(a.start_at for a in appointments()).year == now.year + 1


def test_the_demo_speaks_italian_with_english_one_click_away(app, client):
    seed_demo(now=MARCH)
    assert get_settings().default_locale == "it"
    home = client.get("/").get_data(as_text=True)
    assert '<html lang="it">' in home
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", home)).split())
    assert "Benvenuti a Villa Rosa" in text
    assert "Mesoterapia viso" in text and "Polinucleotidi contorno occhi" in text
    assert "Sospendere aspirina/FANS, olio di pesce e vitamina E" in text
    for english in ("Mesotherapy", "Stop aspirin", "Welcome to Villa Rosa", "No alcohol"):
        assert english not in text
    # The footer's switcher: the same page, every clinic text in English.
    link = re.search(r'<a href="([^"]+)" lang="en" hreflang="en"', home).group(1)
    english = client.get(unescape(link), follow_redirects=True).get_data(as_text=True)
    assert '<html lang="en">' in english
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", english)).split())
    assert "Welcome to Villa Rosa" in text and "Mesotherapy, face" in text and "Polynucleotides, eyes" in text
    assert "Stop aspirin/NSAIDs, fish oil and vitamin E" in text
    assert "Mesoterapia" not in text and "Sospendere" not in text
    # Every text the demo writes has its English.
    for treatment in db.session.scalars(select(Treatment)):
        assert treatment.translation("en", "name") and treatment.translation("en", "description"), treatment.slug
        for rule in [*treatment.protocol.prep_rules, *treatment.protocol.aftercare_rules]:
            assert rule.translation("en", "instruction"), rule.default_text("instruction")
