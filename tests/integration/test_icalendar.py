"""Invites and feeds are correct iCalendar that real clients accept (RFC 5545/5546)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from booking.calendar.invites import build_cancel, build_request
from booking.extensions import db
from booking.models import Appointment, ClinicSettings, OutboxMessage, PrepRule, Protocol, Treatment, User
from tests.integration.clinic import TZ, Api, at, book_consultation, build_clinic, monday_in
from tests.integration.ics_rules import assert_valid_ics

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    return clinic


def invites_for(appointment_id):
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.appointment_id == appointment_id,
                                                          OutboxMessage.ics.is_not(None))
                              .order_by(OutboxMessage.id)).all()


def next_dst_change(after: date) -> date:
    """The first Europe/Rome DST change (last Sunday of March or October) after ``after``."""
    candidates = []
    for year in (after.year, after.year + 1):
        for month in (3, 10):
            day = date(year, month, 31)
            candidates.append(day - timedelta(days=(day.weekday() + 1) % 7))
    return min(d for d in candidates if d > after)


def test_invite_update_and_cancel_keep_one_uid_and_raise_sequence(client, clinic):
    api = Api(client, clinic.patient.email)
    booked = api.post("/appointments", {"treatment": "mesotherapy-face", "start": at(monday_in(3), 10).isoformat(),
                                        "practitioner_id": clinic.anna.id})
    assert booked.status_code == 201
    appointment_id = booked.get_json()["id"]
    assert api.patch(f"/appointments/{appointment_id}", {"start": at(monday_in(3), 11).isoformat()}).status_code == 200
    assert api.post(f"/appointments/{appointment_id}/cancel", {}).status_code == 200
    messages = invites_for(appointment_id)
    assert [m.ics_method for m in messages] == ["REQUEST", "REQUEST", "CANCEL"]
    calendars = [assert_valid_ics(m.ics.encode(), itip=m.ics_method) for m in messages]
    events = [c.walk("VEVENT")[0] for c in calendars]
    assert len({str(e["UID"]) for e in events}) == 1
    assert [e["SEQUENCE"] for e in events] == [0, 1, 2]
    assert events[1].decoded("DTSTART") == at(monday_in(3), 11)
    request_alarms = [str(a["DESCRIPTION"]) for a in events[0].walk("VALARM")]
    # Discreet by default: an alarm shows on a lock screen, so it points to the steps instead.
    assert request_alarms == ["A step to prepare starts now (sign in to see it)",
                              "Tomorrow: Appointment at Test Clinic. A step to prepare starts now (sign in to see it)"]
    assert [a.decoded("TRIGGER") for a in events[0].walk("VALARM")] == [-timedelta(days=7), -timedelta(days=1)]
    assert "Manage your booking: http" in str(events[0]["DESCRIPTION"])
    assert str(events[0]["ORGANIZER"]) == "mailto:clinic@example.com"
    assert str(events[0]["ATTENDEE"]) == f"mailto:{clinic.patient.email}"


def test_a_series_across_a_dst_change_keeps_its_local_time(client, clinic):
    db.session.get(ClinicSettings, 1).horizon_days = 400
    db.session.commit()
    change = next_dst_change(monday_in(3))
    first_day = change - timedelta(days=change.weekday()) - timedelta(days=14)  # a Monday two weeks before
    if first_day < monday_in(3):
        first_day += timedelta(days=7)
    starts = [at(first_day + timedelta(days=14 * i), 10) for i in range(4)]
    api = Api(client, clinic.patient.email)
    response = api.post("/series", {"treatment": "mesotherapy-face", "sessions": [
        {"start": s.isoformat(), "practitioner_id": clinic.anna.id} for s in starts]})
    assert response.status_code == 201, response.get_json()
    utc_hours = set()
    for appointment in response.get_json()["appointments"]:
        calendar = assert_valid_ics(api.get(f"/appointments/{appointment['id']}/invite.ics").data, itip="REQUEST")
        event = calendar.walk("VEVENT")[0]
        assert event["DTSTART"].params["TZID"] == "Europe/Rome"
        assert event.decoded("DTSTART").astimezone(TZ).hour == 10
        utc_hours.add(event.decoded("DTSTART").astimezone(UTC).hour)
    assert utc_hours == {8, 9}, "the series crosses the change: 10:00 local is 09:00 then 08:00 UTC or back"
    feed = api.post("/feeds", {"scope": "patient"}).get_json()["url"]
    data = client.get("/feeds/" + feed.rsplit("/feeds/", 1)[1]).data
    calendar = assert_valid_ics(data)
    sessions = [e for e in calendar.walk("VEVENT") if not str(e["UID"]).startswith("prep-")
                and e.decoded("DTSTART") > at(monday_in(2), 23)]
    assert [e.decoded("DTSTART").astimezone(TZ).hour for e in sessions] == [10] * 4


def test_every_feed_scope_is_valid_icalendar(client, clinic):
    reception = Api(client, clinic.receptionist.email)
    reception.post("/appointments", {"treatment": "mesotherapy-face", "start": at(monday_in(3), 10).isoformat(),
                                     "practitioner_id": clinic.anna.id, "patient_id": clinic.patient.id})
    for scope, target in (("practitioner", clinic.anna.id), ("room", clinic.room.id),
                          ("patient", clinic.patient.id), ("clinic", None)):
        url = reception.post("/feeds", {"scope": scope, **({"id": target} if target else {})}).get_json()["url"]
        response = client.get("/feeds/" + url.rsplit("/feeds/", 1)[1])
        assert_valid_ics(response.data)
        if scope != "patient":
            assert clinic.patient.name not in response.get_data(as_text=True)


def test_invite_summary_names_the_treatment_only_when_the_clinic_says_so(client, clinic):
    api = Api(client, clinic.patient.email)
    booked = api.post("/appointments", {"treatment": "mesotherapy-face", "start": at(monday_in(3), 10).isoformat(),
                                        "practitioner_id": clinic.anna.id}).get_json()
    discreet = api.get(f"/appointments/{booked['id']}/invite.ics").get_data(as_text=True)
    assert "Mesotherapy" not in discreet and "SUMMARY;LANGUAGE=en:Appointment at Test Clinic" in discreet
    assert "aspirin" not in discreet and "alcohol" not in discreet
    db.session.get(ClinicSettings, 1).show_treatment_in_invites = True
    db.session.commit()
    named = api.get(f"/appointments/{booked['id']}/invite.ics").get_data(as_text=True)
    assert "SUMMARY;LANGUAGE=en:Mesotherapy\\, face at Test Clinic" in named
    assert "DESCRIPTION;LANGUAGE=en:Stop aspirin and NSAIDs" in named and "No alcohol" in named


def _snapshot_appointment() -> tuple[Appointment, ClinicSettings]:
    """A fixed, unsaved appointment so the invite text is fully determined."""
    settings = ClinicSettings(id=1, name="Villa Rosa", timezone="Europe/Rome", email="hello@clinic.example",
                              phone="+39 06 1234 5678", address="Via dei Giardini 12, Roma",
                              show_treatment_in_invites=False)
    treatment = Treatment(id=7, slug="mesotherapy-face", name="Mesotherapy, face", kind="treatment",
                          duration_minutes=30)
    treatment.protocol = Protocol(sessions=4, prep_rules=[
        PrepRule(instruction="Stop aspirin and NSAIDs", lead_hours=168, remind=True),
        PrepRule(instruction="No alcohol", lead_hours=24, remind=True)])
    patient = User(id=3, name="Anna Rossi", email="anna@example.com", role="patient")
    appointment = Appointment(id=42, ical_uid="snapshot-42@clinic-booking", ical_sequence=2, status="booked",
                              treatment=treatment, patient=patient)
    appointment.place(datetime(2027, 3, 30, 8, 0, tzinfo=UTC), 30, 0, 10)
    return appointment, settings


@pytest.mark.parametrize("kind", ["request", "cancel"])
def test_invite_text_matches_its_snapshot(app, kind):
    appointment, settings = _snapshot_appointment()
    stamp = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    if kind == "request":
        data = build_request(appointment, settings, "https://clinic.example/me", stamp=stamp)
    else:
        data = build_cancel(appointment, settings, stamp=stamp)
    assert_valid_ics(data, itip=kind.upper())
    expected = (SNAPSHOTS / f"invite_{kind}.ics").read_bytes()
    assert data == expected, "invite text changed; review the diff and update the snapshot if intended"
