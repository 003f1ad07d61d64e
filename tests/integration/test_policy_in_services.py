"""Policy the pages show lives in the services they call: the days the wizard offers (the
booking horizon) and whether a patient may still change a booking online (the cut-off)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from booking.extensions import db
from booking.models import Appointment
from booking.services import changes, patient_bookings
from booking.services.actor import Actor
from booking.services.availability import booking_window
from booking.services.clinic import get_settings
from tests.integration.clinic import at, book_consultation, build_clinic, monday_in


@pytest.fixture
def clinic(app):
    return build_clinic()


def test_the_wizard_window_runs_from_today_to_the_horizon(clinic):
    settings = get_settings()
    settings.horizon_days = 40
    db.session.commit()
    now = at(date(2030, 1, 7), 10)  # 11:00 in Rome
    window = booking_window(now)
    assert (window.today, window.last_day) == (date(2030, 1, 7), date(2030, 2, 16))
    assert window.month(None) == date(2030, 1, 1)
    assert window.month(date(2029, 6, 1)) == date(2030, 1, 1)  # not before this month
    assert window.month(date(2031, 6, 1)) == date(2030, 2, 1)  # not past the horizon's month
    assert window.month(date(2030, 2, 20)) == date(2030, 2, 1)
    assert window.day(date(2030, 1, 6)) is None
    assert window.day(date(2030, 1, 7)) == date(2030, 1, 7)
    assert window.day(date(2030, 2, 17)) == date(2030, 2, 17)  # a day of slack past the horizon
    assert window.day(date(2030, 2, 18)) is None
    assert window.day(None) is None


def test_the_portal_offers_a_change_exactly_when_the_change_would_be_allowed(clinic):
    appointment = book_consultation(clinic, clinic.patient, at(monday_in(2), 10), status="booked")
    cutoff = appointment.start_at - timedelta(hours=get_settings().cancel_cutoff_hours)
    assert patient_bookings.changeable_online(appointment, now=cutoff - timedelta(minutes=1))
    assert not patient_bookings.changeable_online(appointment, now=cutoff + timedelta(minutes=1))
    # At the cut-off itself the rule still allows it; the page must not say otherwise.
    assert patient_bookings.changeable_online(appointment, now=cutoff)
    changes.cancel(Actor.of(clinic.patient), appointment.id, reason="test", now=cutoff)
    db.session.rollback()
    assert db.session.get(Appointment, appointment.id).status == "cancelled"


def test_my_overview_lists_upcoming_soonest_first_and_says_which_may_change(clinic):
    later = book_consultation(clinic, clinic.patient, at(monday_in(3), 10), status="booked")
    sooner = book_consultation(clinic, clinic.patient, at(monday_in(2), 10), status="booked")
    done = book_consultation(clinic, clinic.patient, at(monday_in(-2), 10), status="completed")
    mine = patient_bookings.overview(clinic.patient.id)
    assert [a.id for a in mine.upcoming] == [sooner.id, later.id]
    assert [a.id for a in mine.past] == [done.id]
    assert mine.changeable == {sooner.id: True, later.id: True}
