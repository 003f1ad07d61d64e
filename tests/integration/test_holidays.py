"""Public holidays as clinic closures: the service (by the clinic's country and region, all-day
in clinic time, idempotent, audited), the closures page's "Add public holidays" action, the
settings' country, region and currency, and that nobody can book on a holiday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import AuditEvent, ClinicClosure, ClinicSettings
from booking.models.base import utcnow
from booking.services.actor import Actor
from booking.services.errors import Forbidden, InvalidRequest
from booking.services.holidays import add_public_holidays, check_place, holidays_to_add
from booking.services.schedule_admin import add_clinic_closure
from tests.integration.clinic import PASSWORD, TZ, Api, at, build_clinic, codes


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    settings = db.session.get(ClinicSettings, 1)
    settings.country, settings.region = "IT", "RM"
    db.session.commit()
    return clinic


def login(client, user):
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def closures() -> dict[date, ClinicClosure]:
    db.session.rollback()
    rows = db.session.scalars(select(ClinicClosure).order_by(ClinicClosure.start_at))
    return {c.start_at.astimezone(TZ).date(): c for c in rows}


def count_events(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def this_year() -> int:
    return utcnow().astimezone(TZ).year


def test_a_year_of_rome_holidays_becomes_all_day_closures_once(clinic):
    admin = Actor.of(clinic.admin)
    written, stranded = add_public_holidays(admin, 2026)
    expected = holidays.country_holidays("IT", subdiv="RM", years=2026)
    assert len(written) == len(expected) == 14 and stranded == []
    closed = closures()
    assert {day: c.reason for day, c in closed.items()} == dict(expected)
    christmas = closed[date(2026, 12, 25)]
    assert christmas.reason == "Christmas Day"
    # All day in Rome (UTC+1 in winter, +2 in summer), stored in UTC.
    assert (christmas.start_at, christmas.end_at) == (datetime(2026, 12, 24, 23, tzinfo=UTC),
                                                      datetime(2026, 12, 25, 23, tzinfo=UTC))
    assert closed[date(2026, 8, 15)].start_at == datetime(2026, 8, 14, 22, tzinfo=UTC)
    assert closed[date(2026, 6, 29)].reason == "Saints Peter and Paul's Day"  # Rome's patron saints
    assert count_events("schedule.clinic_closed") == 14
    # Again: nothing new, no duplicate.
    assert add_public_holidays(admin, 2026)[0] == []
    assert len(closures()) == 14 and count_events("schedule.clinic_closed") == 14
    assert holidays_to_add(2026) == []


def test_a_day_already_closed_all_day_is_not_closed_again_but_a_half_day_is(clinic):
    admin = Actor.of(clinic.admin)
    # Closed from Christmas Eve at noon to the 27th: covers the 25th and the 26th.
    add_clinic_closure(admin, start=at(date(2026, 12, 24), 12), end=at(date(2026, 12, 27), 0),
                       reason="Christmas break")
    # A morning only on the 15th of August leaves the rest of that day open.
    add_clinic_closure(admin, start=at(date(2026, 8, 15), 9), end=at(date(2026, 8, 15), 13), reason="Morning")
    to_add = {h.day for h in holidays_to_add(2026)}
    assert date(2026, 12, 25) not in to_add and date(2026, 12, 26) not in to_add
    assert date(2026, 8, 15) in to_add and date(2026, 1, 1) in to_add
    written, _ = add_public_holidays(admin, 2026)
    assert len(written) == 12


def test_national_holidays_only_without_a_region_and_bad_places_are_refused(clinic):
    settings = db.session.get(ClinicSettings, 1)
    settings.region = ""
    db.session.commit()
    days = {h.day for h in holidays_to_add(2026)}
    assert date(2026, 12, 25) in days and date(2026, 6, 29) not in days  # Rome's own day needs RM
    assert check_place("it", "rm") == ("IT", "RM")
    assert check_place("IT", "") == ("IT", "")
    with pytest.raises(InvalidRequest, match="not a country code"):
        check_place("XX")
    with pytest.raises(InvalidRequest, match="not a region of Italy"):
        check_place("IT", "ZZ")


def test_only_an_admin_adds_holidays(clinic):
    with pytest.raises(Forbidden):
        add_public_holidays(Actor.of(clinic.receptionist), 2026)
    assert closures() == {}


def test_closures_page_lists_what_it_would_add_and_adds_it(client, clinic):
    login(client, clinic.admin)
    year = this_year()
    page = client.get("/admin/closures").get_data(as_text=True)
    assert f"Add public holidays for {year}" in page and f"Add public holidays for {year + 1}" in page
    assert "Christmas Day" in page and "public-holiday calendar of Italy (RM)" in page
    response = client.post("/admin/closures/holidays", data={"year": str(year)}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    expected = holidays.country_holidays("IT", subdiv="RM", years=year)
    assert f"{len(expected)} public holiday(s) of {year} added as closures." in page
    assert f"Every public holiday of {year} is already a closure." in page
    assert f"Add public holidays for {year}<" not in page and f"Add public holidays for {year + 1}" in page
    assert sorted(closures()) == sorted(expected)
    # Each one stays removable like any closure.
    christmas = closures()[date(year, 12, 25)]
    removed = client.post(f"/admin/schedule/clinic_closure/{christmas.id}/delete", follow_redirects=True)
    assert removed.status_code == 200 and date(year, 12, 25) not in closures()
    assert f"Add public holidays for {year}<" in client.get("/admin/closures").get_data(as_text=True)
    # A year that is not offered adds nothing.
    refused = client.post("/admin/closures/holidays", data={"year": "1999"}, follow_redirects=True)
    assert "Choose this year or the next." in refused.get_data(as_text=True)
    assert len(closures()) == len(expected) - 1


def test_only_admins_see_the_holidays_action(client, clinic):
    login(client, clinic.receptionist)
    assert client.post("/admin/closures/holidays", data={"year": str(this_year())}).status_code == 403
    assert closures() == {}


def test_settings_take_country_region_and_currency_and_refuse_bad_ones(client, clinic):
    login(client, clinic.admin)
    form = {"name": "Villa Nuova", "timezone": "Europe/Rome", "phone": "", "email": "", "address": "",
            "horizon_days": "180", "min_notice_hours": "24", "cancel_cutoff_hours": "24", "slot_step_minutes": "15",
            "reminder_hours": "48", "primary_color": "#224466", "country": "fr", "region": "", "currency": "eur"}
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="country"' in page and 'value="RM"' in page and 'value="EUR"' in page
    for bad, message in (({"country": "XX"}, "not a country code"), ({"region": "ZZ"}, "not a region of France"),
                         ({"currency": "EU1"}, "three letters")):
        response = client.post("/admin/settings", data=form | bad)
        assert response.status_code == 400 and message in response.get_data(as_text=True), bad
    db.session.rollback()
    assert (db.session.get(ClinicSettings, 1).country, db.session.get(ClinicSettings, 1).name) == ("IT", "Test Clinic")
    assert client.post("/admin/settings", data=form | {"country": "it", "region": "rm"}).status_code == 302
    db.session.rollback()
    settings = db.session.get(ClinicSettings, 1)
    assert (settings.country, settings.region, settings.currency) == ("IT", "RM", "EUR")
    assert client.post("/admin/settings", data=form).status_code == 302
    db.session.rollback()
    settings = db.session.get(ClinicSettings, 1)
    assert (settings.country, settings.region, settings.currency) == ("FR", "", "EUR")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "settings.changed")
                               .order_by(AuditEvent.id.desc())).first()
    assert (event.before["country"], event.after["country"]) == ("IT", "FR")
    # Closures now offer France's holidays (14 July), not Italy's.
    client.get("/admin/closures")
    assert date(this_year(), 7, 14) in {h.day for h in holidays_to_add(this_year())}


def _next_weekday_holiday() -> date:
    """The next public holiday in Rome on a weekday (the test clinic works Mon-Fri) at least
    three days away, within the booking horizon."""
    today = utcnow().astimezone(TZ).date()
    rome = holidays.country_holidays("IT", subdiv="RM", years=[today.year, today.year + 1])
    return min(d for d in rome if d.weekday() < 5 and today + timedelta(days=3) <= d <= today + timedelta(days=170))


def test_a_patient_cannot_book_on_a_holiday(client, clinic):
    day = _next_weekday_holiday()
    add_public_holidays(Actor.of(clinic.admin), day.year)
    patient = Api(client, clinic.patient.email)
    body = patient.get(f"/availability?treatment=consultation&start={day}&end={day}").get_json()
    assert body["slots"] == []
    around = patient.get(f"/availability?treatment=consultation&start={day - timedelta(days=7)}"
                         f"&end={day + timedelta(days=7)}").get_json()
    local_days = {datetime.fromisoformat(s["start"]).astimezone(TZ).date() for s in around["slots"]}
    assert local_days and day not in local_days
    refused = patient.post("/appointments", {"treatment": "consultation", "start": at(day, 10).isoformat(),
                                             "practitioner_id": clinic.anna.id})
    assert refused.status_code == 422 and codes(refused) == ["outside_hours"]
