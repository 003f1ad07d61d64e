"""The text of the e-mails patients get, checked against reviewed snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from booking.mail import notifications
from booking.mail.rendering import MailRenderer
from booking.models import Appointment, ClinicSettings, PrepRule, Protocol, Series, Treatment, User
from booking.scheduling.clock import to_local
from booking.scheduling.model import PrepStep
from booking.scheduling.prep import prep_timeline

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _fixture():
    """A fixed, unsaved series of two sessions, so the text is fully determined."""
    settings = ClinicSettings(id=1, name="Villa Rosa", timezone="Europe/Rome", phone="+39 06 1234 5678",
                              cancel_cutoff_hours=24)
    treatment = Treatment(id=7, slug="mesotherapy-face", name="Mesotherapy, face", kind="treatment",
                          duration_minutes=30)
    treatment.protocol = Protocol(sessions=2, prep_rules=[
        PrepRule(instruction="Stop aspirin and NSAIDs", lead_hours=168, remind=True),
        PrepRule(instruction="No alcohol", lead_hours=24, remind=True)])
    patient = User(id=3, name="Anna Rossi", email="anna@example.com", role="patient")
    series = Series(id=5, treatment=treatment, patient=patient)
    appointments = []
    for i in range(2):
        a = Appointment(id=40 + i, treatment=treatment, patient=patient, status="booked", series_index=i)
        a.place(datetime(2027, 3, 16, 9, 0, tzinfo=UTC) + timedelta(days=14 * i), 30, 0, 10)
        appointments.append(a)
    return settings, treatment, series, appointments


@pytest.mark.parametrize("part", ["txt", "html"])
@pytest.mark.parametrize("named", [False, True], ids=["discreet", "named"])
def test_series_confirmation_matches_its_snapshot(part, named):
    # No app: the mail renderer needs only the templates and the site's address.
    settings, treatment, series, appointments = _fixture()
    steps = [PrepStep(r.instruction, r.lead_hours) for r in treatment.protocol.prep_rules]
    timeline = [(e, to_local(e.at, settings.timezone))
                for e in prep_timeline([a.start_at for a in appointments], steps, settings.timezone)]
    mail = MailRenderer("https://clinic.example/")
    text, html = mail.render(
        "series_booked", series=series, sessions=[(a, notifications.when(a, settings)) for a in appointments],
        clinic=settings, manage_url=mail.manage_url, treatment=treatment, timeline=timeline, named=named)
    rendered = text if part == "txt" else html
    expected = (SNAPSHOTS / f"series_booked{'_named' if named else ''}.{part}").read_text()
    assert rendered == expected, "mail text changed; review the diff and update the snapshot if intended"
    # In the clinic's time: the same UTC hour is 10:00 before the change to summer time, 11:00 after.
    assert "Tue 16 Mar 2027, 10:00 (Europe/Rome)" in rendered and "Tue 30 Mar 2027, 11:00 (Europe/Rome)" in rendered
    assert "+39 06 1234 5678" in rendered
    # Discreet by default (issue 12, finding 13): neither the treatment nor a prep step, only the portal link.
    assert ("Stop aspirin and NSAIDs" in rendered) is named and ("Mesotherapy" in rendered) is named
    assert "https://clinic.example/me" in rendered
