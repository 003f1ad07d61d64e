"""The audit log reads as sentences: names instead of ids, clinic-local times (Europe/Rome), the
rule codes staff overrode and why; paginated with the filters kept; an erased patient stays
"Erased patient", questionnaire answers stay out; a page costs the same queries for 10 or 60 events."""

from __future__ import annotations

import html
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event

from booking.extensions import db
from booking.models import Appointment
from booking.models.base import utcnow
from booking.services import audit, changes, clinic_admin, patients, schedule_admin
from booking.services import booking as booking_service
from booking.services.actor import Actor
from booking.services.audit_log import AUDIT_PAGE_SIZE, SENTENCES
from booking.services.booking import SessionRequest
from tests.integration.clinic import PASSWORD, TZ, at, book_consultation, build_clinic, monday_in
from tests.integration.factories import make_user


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, user):
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def entries(page: str) -> list[str]:
    """The text of each entry of the audit page, tags stripped and whitespace collapsed."""
    items = re.findall(r'<li class="audit-entry[^"]*">(.*?)</li>', page, flags=re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in items]


def sentences(page: str) -> list[str]:
    """The sentence of each entry."""
    return [" ".join(html.unescape(s).split()) for s in re.findall(r'<p class="audit-what">(.*?)</p>', page, re.S)]


def wall(moment: datetime) -> str:
    """How the clinic reads a moment in a sentence: "Mon 14 Dec" and "10:00" (the year may follow)."""
    local = moment.astimezone(TZ)
    return f"{local:%a} {local.day} {local:%b}"


def book_series(clinic, first):
    """Paola's four face sessions from ``first`` with Anna, 14 days apart, booked by reception."""
    book_consultation(clinic, clinic.patient, first - timedelta(days=7))
    sessions = [SessionRequest(first + timedelta(days=14 * i), clinic.anna.id) for i in range(4)]
    return booking_service.book_series(Actor.of(clinic.receptionist), treatment_slug="mesotherapy-face",
                                       sessions=sessions, patient_id=clinic.patient.id)


def test_bookings_moves_and_cancellations_read_as_sentences_in_clinic_time(client, clinic):
    first = at(monday_in(3), 10)
    series = book_series(clinic, first)
    second, fourth = series.appointments[1].id, series.appointments[3].id
    login(client, clinic.receptionist)
    target = first + timedelta(days=4)  # 4 days after the first session: too short an interval
    response = client.post(f"/reception/api/appointments/{second}/move",
                           json={"start": target.strftime("%Y-%m-%dT%H:%M:%S"),
                                 "override_reason": "Patient travels on the planned date"})
    assert response.status_code == 200, response.get_json()
    changes.cancel(Actor.of(clinic.receptionist), fourth, reason="Patient phoned: flu")

    page = client.get("/admin/audit").get_data(as_text=True)
    told = sentences(page)
    moved = next(s for s in told if " moved " in s)
    # Names instead of ids, the clinic's 10:00 (08:00 or 09:00 UTC), the override and its reason.
    assert moved.startswith("Rita Reception moved Paola Patient's Mesotherapy, face from ")
    assert f"from {wall(first + timedelta(days=14))}" in moved and f"to {wall(target)}" in moved
    assert "10:00" in moved and "09:00" not in moved and "08:00" not in moved
    assert "with Anna Practitioner" in moved
    assert re.search(r"\(override: [a-z_, ]*interval_too_short[a-z_, ]*, reason: “Patient travels on the planned date”\)\.$",
                     moved), moved
    booked = [s for s in told if " booked Paola Patient's Mesotherapy, face (session " in s]
    assert len(booked) == 4
    assert any(f"(session 1) on {wall(first)}" in s and "with Anna Practitioner in Sala Verde" in s for s in booked)
    assert "Rita Reception booked a series of 4 Mesotherapy, face sessions for Paola Patient." in told
    cancelled = next(s for s in told if " cancelled " in s)
    assert cancelled.startswith(f"Rita Reception cancelled Paola Patient's Mesotherapy, face (session 4) on "
                                f"{wall(first + timedelta(days=42))}")
    assert cancelled.endswith("(reason: “Patient phoned: flu”).")
    # No raw snapshot: no ids, no UTC ISO times, no JSON keys.
    shown = " ".join(entries(page))
    assert "practitioner_id" not in shown and "+00:00" not in shown and '"start"' not in shown
    # The entry says who (with their role) and links to the appointment's history.
    entry = next(e for e in entries(page) if " moved " in e)
    assert "Rita Reception (receptionist)" in entry and "appointment.moved" in entry
    assert f'href="/admin/audit?appointment={second}"' in page
    # Filtered by the appointment, only its events.
    only = sentences(client.get(f"/admin/audit?appointment={second}").get_data(as_text=True))
    assert len(only) == 2 and all("session 2" in s or " moved " in s for s in only)


def test_when_is_the_clinics_wall_clock(client, clinic):
    event = audit.record("settings.changed", actor_id=clinic.admin.id, entity_type="clinic_settings", entity_id=1,
                         before={"name": "Old Clinic", "min_notice_hours": 12},
                         after={"name": "Test Clinic", "min_notice_hours": 24})
    event.at = datetime(2026, 12, 8, 9, 15, tzinfo=UTC)  # 10:15 in Rome
    db.session.commit()
    login(client, clinic.admin)
    page = client.get("/admin/audit").get_data(as_text=True)
    (entry,) = entries(page)
    assert "Tue 8 Dec 2026, 10:15" in entry and "09:15" not in entry
    assert sentences(page) == ["Adam Admin changed the clinic settings: min notice hours, name."]
    # What changed, field by field.
    assert "min notice hours 12 → 24" in entry and "name Old Clinic → Test Clinic" in entry


def test_schedule_catalogue_and_patient_actions_name_things(client, clinic):
    admin = Actor.of(clinic.admin)
    closed = at(monday_in(2), 0)
    schedule_admin.add_clinic_closure(admin, start=closed, end=closed + timedelta(days=1), reason="Festa")
    schedule_admin.add_time_off(admin, clinic.bruno.id, start=at(monday_in(2), 14), end=at(monday_in(2), 18))
    patients.save_intake(clinic.patient.id, {"pregnant": True}, "expecting in spring")
    patients.request_callback(clinic.other_patient.id, clinic.face.id, "please call")
    audit.record("series.replanned", actor_id=clinic.receptionist.id, entity_type="series", entity_id=7,
                 patient_id=clinic.patient.id, after={"anything": [1, 2]})
    audit.record("appointment.moved", actor_id=clinic.receptionist.id, entity_type="appointment",
                 entity_id=None, before=["not", "a", "snapshot"], after={"start": "garbage", "practitioner_id": "x"})
    db.session.commit()
    login(client, clinic.receptionist)
    page = client.get("/admin/audit").get_data(as_text=True)
    told = sentences(page)
    assert f"Adam Admin closed the clinic from {wall(closed)}" in told[-1] and "(“Festa”)" in told[-1]
    assert "00:00" in told[-1] and "23:00" not in told[-1] and "22:00" not in told[-1]
    assert told[-2].startswith(f"Adam Admin added time off for Bruno Practitioner from {wall(at(monday_in(2), 14))}")
    assert "14:00" in told[-2] and "18:00" in told[-2]
    assert "Paola Patient updated their health questionnaire; it rules out Mesotherapy, face." in told
    assert "Otto Other asked to be called back about Mesotherapy, face." in told
    # An action the page does not know, and a snapshot of the wrong shape: still a sentence.
    assert "Rita Reception: series: replanned (Paola Patient)." in told
    assert any(s.startswith("Rita Reception moved") and "an unknown time" in s for s in told)
    # The questionnaire's answers and notes stay out of the log.
    assert "pregnant" not in page and "expecting" not in page


def test_an_erased_patient_stays_erased_in_the_log(client, clinic):
    otto = clinic.other_patient
    patients.request_callback(otto.id, clinic.face.id, "call me")
    patients.request_erasure(otto.id)
    clinic_admin.confirm_erasure(Actor.of(clinic.admin), otto.id)
    login(client, clinic.admin)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "Otto" not in page and "otto@example.com" not in page
    told = sentences(page)
    assert "Erased patient asked to be called back about Mesotherapy, face." in told
    assert "Adam Admin erased the personal data of a patient (now shown as Erased patient)." in told


def _record(clinic, n: int, offset: int) -> None:
    """``n`` events of several kinds, each about its own patient and appointment, a minute apart."""
    base = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    for i in range(offset, offset + n):
        patient = make_user(name=f"Patient {i:02d}", email=f"p{i}@example.com")
        appointment = Appointment(patient_id=patient.id, practitioner_id=(clinic.anna, clinic.bruno)[i % 2].id,
                                  room_id=clinic.room.id, treatment_id=clinic.face.id, status="booked")
        appointment.place(base + timedelta(days=i), 30, 0, 10)
        db.session.add(appointment)
        db.session.flush()
        kind = i % 3
        if kind == 0:
            made = audit.record_appointment("appointment.booked", appointment, actor_id=clinic.receptionist.id,
                                            reason=f"marker-{i:02d}", overridden=["prep_too_short"])
        elif kind == 1:
            made = audit.record("schedule.room_closed", actor_id=clinic.admin.id, entity_type="room",
                                entity_id=clinic.room.id, patient_id=patient.id, appointment_id=appointment.id,
                                after={"start": appointment.start_at.isoformat(), "end": appointment.end_at.isoformat()},
                                reason=f"marker-{i:02d}")
        else:
            made = audit.record("catalog.prep_rule_added", actor_id=clinic.admin.id, entity_type="treatment",
                                entity_id=clinic.face.id, patient_id=patient.id, appointment_id=appointment.id,
                                after={"instruction": "No sun", "lead_hours": 24}, reason=f"marker-{i:02d}")
        made.at = base + timedelta(minutes=i)
    db.session.commit()


@contextmanager
def counting_statements():
    """Count the SQL statements run inside the block."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)


def test_a_page_costs_the_same_queries_for_10_or_60_events(client, clinic):
    _record(clinic, 10, 0)
    login(client, clinic.receptionist)
    client.get("/admin/audit")  # warm
    with counting_statements() as ten:
        page = client.get("/admin/audit").get_data(as_text=True)
    assert len(sentences(page)) == 10 and "Patient 09" in page
    _record(clinic, 50, 10)
    client.get("/admin/audit")  # the same state of the test's session as before the first count
    with counting_statements() as sixty:
        page = client.get("/admin/audit").get_data(as_text=True)
    assert len(sentences(page)) == AUDIT_PAGE_SIZE == 50
    assert "Patient 59" in page and "with Bruno Practitioner" in page and "Sala Verde" in page
    assert len(sixty) == len(ten), (len(ten), len(sixty))


def test_pages_of_50_newest_first_keep_the_filters(client, clinic):
    _record(clinic, 60, 0)
    audit.record("settings.changed", actor_id=clinic.admin.id, entity_type="clinic_settings", entity_id=1,
                 after={"name": "Test Clinic"})
    db.session.commit()
    login(client, clinic.receptionist)
    first = client.get(f"/admin/audit?actor={clinic.receptionist.id}&action=appointment")
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    # 20 bookings by reception (every third event): one page, no "Older".
    assert len(sentences(page)) == 20 and "Older" not in page and "Newer" not in page
    page = client.get("/admin/audit?patient=patient").get_data(as_text=True)
    markers = re.findall(r"marker-(\d\d)", page)
    assert markers == [f"{i:02d}" for i in range(59, 9, -1)]  # the newest 50
    older = re.search(r'<a rel="next" href="([^"]+)">Older', page).group(1)
    assert "page=2" in older and "patient=patient" in older
    page = client.get(html.unescape(older)).get_data(as_text=True)
    assert re.findall(r"marker-(\d\d)", page) == [f"{i:02d}" for i in range(9, -1, -1)]
    newer = re.search(r'<a rel="prev" href="([^"]+)">', page).group(1)
    assert "page=1" in newer and "patient=patient" in newer and "Older" not in page
    # Override codes stay visible on every overridden entry.
    assert page.count("override: prep_too_short") == 4  # events 9, 6, 3, 0


@pytest.mark.parametrize("bad", ["abc", "-3", "0", "1.5", "99999999999999999999999", ""])
def test_a_bad_page_number_gives_the_first_page_or_an_empty_one_never_a_500(client, clinic, bad):
    _record(clinic, 3, 0)
    login(client, clinic.admin)
    response = client.get(f"/admin/audit?page={bad}&_scheme=javascript&_external=1")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert len(sentences(page)) in (3, 0)
    if bad != "99999999999999999999999":
        assert len(sentences(page)) == 3 and "marker-02" in page


def test_every_known_action_reads_as_a_sentence_even_with_empty_snapshots(client, clinic):
    for action in SENTENCES:
        audit.record(action, actor_id=clinic.admin.id, entity_type="user", entity_id=clinic.patient.id,
                     patient_id=clinic.patient.id, before={}, after={"overridden": "not a list"})
    db.session.commit()
    login(client, clinic.admin)
    response = client.get(f"/admin/audit?first_day={utcnow().date() - timedelta(days=1)}")
    assert response.status_code == 200
    told = sentences(response.get_data(as_text=True))
    assert len(told) == len(SENTENCES)
    assert not [s for s in told if "{" in s or "None" in s]
