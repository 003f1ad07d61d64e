"""The reception calendar draws the time an appointment holds around itself (issue 13, bug 5):
a treatment's clean-up buffer is a striped background event after it, in its column."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.services import booking as booking_service
from booking.services.actor import Actor
from booking.services.booking import SessionRequest
from tests.integration.clinic import PASSWORD, at, book_consultation, build_clinic, monday_in


@pytest.fixture
def clinic(app):
    return build_clinic()


def test_the_clean_up_buffer_is_drawn_after_the_appointment(client, clinic):
    monday = monday_in(3)
    book_consultation(clinic, clinic.patient, at(monday - timedelta(days=7), 10))
    booked = booking_service.book_series(Actor.of(clinic.receptionist), treatment_slug="mesotherapy-face",
                                         sessions=[SessionRequest(at(monday, 10) + timedelta(days=14 * i),
                                                                  clinic.anna.id) for i in range(4)],
                                         patient_id=clinic.patient.id)
    first = booked.appointments[0]
    client.post("/login", data={"email": clinic.receptionist.email, "password": PASSWORD})
    span = f"start={monday}T00:00:00&end={monday + timedelta(days=1)}T00:00:00"
    for by, column in (("practitioner", f"p{clinic.anna.id}"), ("room", f"r{clinic.room.id}")):
        events = client.get(f"/reception/api/events?by={by}&{span}").get_json()
        assert next(e for e in events if e["id"] == str(first.id))["end"] == f"{monday}T10:30:00"
        buffers = [e for e in events if e.get("extendedProps", {}).get("kind") == "buffer"]
        assert buffers == [{
            "id": f"buffer-{first.id}-after", "resourceIds": [column], "start": f"{monday}T10:30:00",
            "end": f"{monday}T10:40:00", "display": "background",
            "classNames": ["bg-buffer"], "title": "Clean-up", "editable": False,
            "extendedProps": {"kind": "buffer", "appointment_id": first.id}}]
