"""Issue 13, "booking pages like the best booking pages": price and duration, a summary on every
step, a day picker limited to a session's window, one file with all sessions plus Google links,
and a portal that counts cancelled sessions and books one again inside its window."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from booking.calendar import invites
from booking.extensions import db
from booking.models import Appointment, AuditEvent, Series, Treatment
from booking.models.base import utcnow
from booking.services import changes, choices
from booking.services.actor import Actor
from booking.services.catalog_admin import PROTOCOL_FIELDS, TREATMENT_FIELDS
from booking.services.clinic import get_settings
from tests.integration.clinic import TZ, Api, at, book_consultation, build_clinic, monday_in


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    clinic.face.price_cents = 18000
    clinic.consultation.price_cents = 6050
    db.session.commit()
    return clinic


def login(client, email, password="password123"):
    return client.post("/login", data={"email": email, "password": password})


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def links(response, part: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]*%s[^"]*)"' % re.escape(part), response.get_data(as_text=True))]


def picker_days(response) -> set:
    """The days a day picker lets the patient choose."""
    return {datetime.fromisoformat(d).date() for d in re.findall(r'data-day="([0-9-]+)"', response.get_data(as_text=True))}


def series_page(client, clinic):
    """The proposed 4-session series from Monday in three weeks at 10:00 with Anna."""
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    login(client, clinic.patient.email)
    first = at(monday_in(3), 10)
    picked = client.get("/book/mesotherapy-face/pick", query_string={"slot": f"{first.isoformat()}|{clinic.anna.id}"})
    return client.get(picked.headers["Location"])


def book_series(client, clinic, weeks: int = 3) -> list[Appointment]:
    """Paola's booked series of four (through the API), as rows."""
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    api = Api(client, clinic.patient.email)
    starts = [at(monday_in(weeks) + timedelta(days=14 * i), 10) for i in range(4)]
    response = api.post("/series", {"treatment": "mesotherapy-face", "sessions": [
        {"start": s.isoformat(), "practitioner_id": clinic.anna.id} for s in starts]})
    assert response.status_code == 201, response.get_json()
    return [db.session.get(Appointment, a["id"]) for a in response.get_json()["appointments"]]


# --- price, duration, summary -------------------------------------------------------------
def test_the_first_step_shows_price_duration_and_a_summary_of_the_choice(client, clinic):
    day = monday_in(2)
    page = text(client.get(f"/book/consultation?month={day:%Y-%m}&day={day.isoformat()}&practitioner={clinic.anna.id}"))
    assert "€60.50" in page and "30 minutes" in page
    summary = page.split('id="summary-title"')[1].split("</aside>")[0]
    assert "Consultation" in summary and "Anna Practitioner" in summary and day.strftime("%a %d %b %Y") in summary
    clinic.consultation.price_cents = None
    db.session.commit()
    assert "Price on request" in text(client.get("/book/consultation"))


def test_the_series_step_and_the_review_sum_up_sessions_price_times_sessions_and_times(client, clinic):
    page = text(series_page(client, clinic))
    summary = page.split('id="summary-title"')[1].split("</aside>")[0]
    assert "€180 × 4 sessions = €720" in summary and "30 minutes per session" in summary
    assert len(re.findall(r"<li[^>]*>\w{3} \d\d \w{3} \d{4}, \d\d:\d\d", summary)) == 4
    hidden = re.search(r'name="sessions" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/book/mesotherapy-face/series", data={"sessions": unescape(hidden), "prep_read": "y"})
    review = text(client.get("/book/review"))
    assert "Your booking" in review and "€720" in review


def test_prices_use_the_clinics_currency(client, clinic):
    get_settings().currency = "GBP"
    db.session.commit()
    assert "£60.50" in text(client.get("/book/consultation"))
    get_settings().currency = "SEK"
    db.session.commit()
    assert "60.50 SEK" in text(client.get("/book/consultation"))


def _treatment_form(row: Treatment, **changes_) -> dict:
    data = {name: getattr(row, name) for name in TREATMENT_FIELDS}
    data |= {name: getattr(row.protocol, name) for name in PROTOCOL_FIELDS}
    data["consultation_treatment_id"] = data["consultation_treatment_id"] or 0
    data["body_area"] = data["body_area"] or ""
    out = {}
    for name, value in {**data, **changes_}.items():
        if value is True:
            out[name] = "y"
        elif value is False:
            continue
        elif value is None:
            out[name] = ""
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("typed, cents", [("60.50", 6050), ("180", 18000), ("", None), ("0", 0)])
def test_the_admin_sets_a_price_in_euros_or_leaves_it_on_request(client, clinic, typed, cents):
    login(client, clinic.admin.email)
    saved = client.post(f"/admin/treatments/{clinic.face.id}", data=_treatment_form(clinic.face, price=typed))
    assert saved.status_code == 302, text(saved)
    db.session.expire_all()
    assert db.session.get(Treatment, clinic.face.id).price_cents == cents
    page = text(client.get(f"/admin/treatments/{clinic.face.id}"))
    assert f'value="{typed and f"{cents / 100:.2f}"}"' in page


@pytest.mark.parametrize("typed", ["-1", "100000", "12.345", "abc", "NaN", "sNaN", "1e999999"])
def test_a_wrong_price_is_a_form_message(client, clinic, typed):
    login(client, clinic.admin.email)
    refused = client.post(f"/admin/treatments/{clinic.face.id}", data=_treatment_form(clinic.face, price=typed))
    assert refused.status_code == 400
    assert 'id="price-error"' in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Treatment, clinic.face.id).price_cents == 18000


# --- changing one session: a day picker limited to its window --------------------------------
def test_changing_a_session_offers_only_the_days_of_its_window_that_have_free_times(client, clinic):
    proposed = series_page(client, clinic)
    change = client.get(links(proposed, "/series/change/1")[0])
    assert change.status_code == 200
    offered = picker_days(change)
    encoded = parse_qs(urlsplit(links(proposed, "/series/change/1")[0]).query)["s"]
    sessions = [(datetime.fromisoformat(v.split("|")[0]), int(v.split("|")[1])) for v in encoded]
    slots = choices.session_alternatives(Actor.of(clinic.patient), clinic.face, sessions, 1,
                                         patient_id=clinic.patient.id)
    assert offered == {s.start.astimezone(TZ).date() for s in slots} and offered
    first = sessions[0][0].astimezone(TZ).date()
    assert all(10 <= (d - first).days <= 21 for d in offered)
    # The window's weekend days (the clinic is closed) are shown but cannot be chosen.
    weekend = [first + timedelta(days=n) for n in range(10, 22) if (first + timedelta(days=n)).weekday() >= 5]
    assert weekend and not offered & set(weekend)
    body = change.get_data(as_text=True)
    for day in weekend:
        assert f'title="{day.strftime("%A")} {day.day} {day.strftime("%B")}: no free times"' in body
    # One day's times at a time, each with its practitioner: not a wall of every time in the window.
    times = re.findall(r'replan=1[^"]*">(\d\d:\d\d)<span class="who"> · ([^<]+)</span>', body)
    assert 0 < len(times) < len(slots)
    assert {name for _, name in times} <= {"Anna Practitioner", "Bruno Practitioner"}
    # Another day of the window shows that day's times only.
    other = sorted(offered)[-1]
    other_page = client.get(links(change, f"day={other.isoformat()}")[0])
    chosen = links(other_page, "replan=1")
    assert chosen and len(chosen) == sum(1 for s in slots if s.start.astimezone(TZ).date() == other)


def test_a_day_outside_the_window_is_not_offered_even_when_asked_for(client, clinic):
    proposed = series_page(client, clinic)
    url = links(proposed, "/series/change/1")[0]
    far = (monday_in(3) + timedelta(days=40)).isoformat()
    page = client.get(url + f"&day={far}")
    assert page.status_code == 200
    assert far not in {d.isoformat() for d in picker_days(page)}
    assert f"day={far}" not in page.get_data(as_text=True).split('id="times"')[1]


# --- all sessions in one file; Google Calendar links ---------------------------------------
def test_one_file_adds_every_session_with_the_invites_uids(client, clinic):
    appointments = book_series(client, clinic)
    login(client, clinic.patient.email)
    series_id = appointments[0].series_id
    done = client.get(f"/book/done?series={series_id}")
    assert f"/me/series/{series_id}/sessions.ics" in done.get_data(as_text=True)
    response = client.get(f"/me/series/{series_id}/sessions.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["METHOD"]) == "PUBLISH"
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 4
    invite_uids = {str(event["UID"]) for a in appointments
                   for event in Calendar.from_ical(invites.build_current(a, get_settings(), "x")).walk("VEVENT")}
    assert {str(e["UID"]) for e in events} == invite_uids == {a.ical_uid for a in appointments}
    assert all("ATTENDEE" not in e for e in events)
    assert all(str(e["SUMMARY"]) == "Appointment at Test Clinic" for e in events)
    assert sorted(e.decoded("DTSTART") for e in events) == sorted(a.start_at for a in appointments)
    assert calendar.walk("VTIMEZONE")
    # A cancelled session is left out.
    changes.cancel(Actor.of(clinic.patient), appointments[3].id, reason="x")
    assert len(Calendar.from_ical(client.get(f"/me/series/{series_id}/sessions.ics").data).walk("VEVENT")) == 3


def test_another_patients_series_file_is_a_404(client, clinic):
    appointments = book_series(client, clinic)
    login(client, clinic.other_patient.email)
    assert client.get(f"/me/series/{appointments[0].series_id}/sessions.ics").status_code == 404
    assert client.get(f"/book/done?series={appointments[0].series_id}").status_code == 404
    assert client.get("/me/series/999999/sessions.ics").status_code == 404


def test_each_session_has_a_discreet_google_calendar_link(client, clinic):
    appointments = book_series(client, clinic)
    login(client, clinic.patient.email)
    done = client.get(f"/book/done?series={appointments[0].series_id}")
    google = links(done, "https://calendar.google.com/calendar/render?")
    assert len(google) == 4
    query = parse_qs(urlsplit(google[0]).query)
    first = appointments[0]
    assert query["action"] == ["TEMPLATE"]
    assert query["dates"] == [f"{first.start_at.astimezone(UTC):%Y%m%dT%H%M%SZ}/{first.end_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"]
    assert query["text"] == ["Appointment at Test Clinic"] and "Mesotherapy" not in google[0]
    assert query["location"][0].startswith("Test Clinic")
    assert "/me" in query["details"][0]
    # The portal has them too.
    assert len(links(client.get("/me"), "https://calendar.google.com/calendar/render?")) == 4
    get_settings().show_treatment_in_invites = True
    db.session.commit()
    named = links(client.get(f"/book/done?series={appointments[0].series_id}"), "https://calendar.google.com/")
    assert parse_qs(urlsplit(named[0]).query)["text"] == ["Mesotherapy, face at Test Clinic"]


# --- the portal: counts and rebooking a cancelled session -----------------------------------
def test_the_portal_does_not_count_a_cancelled_session_as_done_or_booked(client, clinic):
    appointments = book_series(client, clinic)
    appointments[0].status = "completed"
    db.session.commit()
    changes.cancel(Actor.of(clinic.patient), appointments[2].id, reason="x")
    login(client, clinic.patient.email)
    page = text(client.get("/me"))
    assert "Mesotherapy, face</strong>: 1 of 4 done · 2 booked · 1 cancelled" in page
    assert 'value="1"' in page.split("<progress")[1].split(">")[0]
    assert links(client.get("/me"), f"/me/appointments/{appointments[2].id}/rebook")


def test_a_cancelled_session_is_booked_again_inside_its_window(client, clinic):
    appointments = book_series(client, clinic)
    cancelled = appointments[1]
    changes.cancel(Actor.of(clinic.patient), cancelled.id, reason="x")
    login(client, clinic.patient.email)
    page = client.get(f"/me/appointments/{cancelled.id}/rebook")
    assert page.status_code == 200
    days = picker_days(page)
    before, after = (a.start_at.astimezone(TZ).date() for a in (appointments[0], appointments[2]))
    assert days and all(10 <= (d - before).days <= 21 and 10 <= (after - d).days <= 21 for d in days)
    values = [unescape(v) for v in re.findall(r'name="slot" value="([^"]+)"', page.get_data(as_text=True))]
    assert values
    booked = client.post(f"/me/appointments/{cancelled.id}/rebook", data={"slot": values[-1]})
    assert booked.status_code == 302 and booked.headers["Location"].endswith("/me")
    db.session.expire_all()
    series = db.session.get(Series, cancelled.series_id)
    again = [a for a in series.appointments if a.series_index == 1 and a.status == "booked"]
    assert len(again) == 1 and again[0].id != cancelled.id
    assert again[0].start_at == datetime.fromisoformat(values[-1].split("|")[0])
    assert db.session.get(Appointment, cancelled.id).status == "cancelled"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "series.session_rebooked")) == 1
    assert "0 of 4 done · 4 booked" in text(client.get("/me"))
    # Booked again: no second rebooking of the same session.
    assert client.get(f"/me/appointments/{cancelled.id}/rebook").status_code == 409


def test_a_time_outside_the_window_is_refused_with_a_message(client, clinic):
    appointments = book_series(client, clinic)
    cancelled = appointments[1]
    changes.cancel(Actor.of(clinic.patient), cancelled.id, reason="x")
    login(client, clinic.patient.email)
    too_soon = appointments[0].start_at + timedelta(days=3)  # session 2 needs 10 days after session 1
    refused = client.post(f"/me/appointments/{cancelled.id}/rebook",
                          data={"slot": f"{too_soon.isoformat()}|{clinic.anna.id}"})
    assert refused.status_code in (409, 422), refused.status_code
    assert 'class="flash flash-error"' in refused.get_data(as_text=True)
    assert "day" in text(refused).split('flash-error" role="status">')[1].split("</p>")[0]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Appointment)
                             .where(Appointment.series_id == cancelled.series_id, Appointment.status == "booked")) == 3
    garbage = client.post(f"/me/appointments/{cancelled.id}/rebook", data={"slot": "garbage"})
    assert garbage.status_code == 400 and "Choose one of the offered times." in text(garbage)


def test_another_patients_cancelled_session_cannot_be_rebooked(client, clinic):
    appointments = book_series(client, clinic)
    changes.cancel(Actor.of(clinic.patient), appointments[1].id, reason="x")
    login(client, clinic.other_patient.email)
    assert client.get(f"/me/appointments/{appointments[1].id}/rebook").status_code == 404


def test_when_the_window_has_passed_the_page_says_so_and_offers_a_call(client, clinic):
    series = Series(patient_id=clinic.patient.id, treatment_id=clinic.face.id, status="active")
    db.session.add(series)
    start = at((utcnow() - timedelta(days=40)).astimezone(TZ).date(), 10)
    rows = []
    for i, status in enumerate(["completed", "cancelled", "cancelled", "cancelled"]):
        row = Appointment(patient_id=clinic.patient.id, practitioner_id=clinic.anna.id, room_id=clinic.room.id,
                          treatment_id=clinic.face.id, series=series, series_index=i, status=status)
        row.place(start + timedelta(days=14 * i), 30, 0, 10)
        db.session.add(row)
        rows.append(row)
    db.session.commit()
    login(client, clinic.patient.email)
    page = client.get(f"/me/appointments/{rows[1].id}/rebook")
    assert page.status_code == 200
    assert "The window for this session has passed" in text(page)
    assert "/book/callback" in page.get_data(as_text=True) and not picker_days(page)
    assert "1 of 4 done · 3 cancelled" in text(client.get("/me"))


def test_moving_a_booked_session_in_the_portal_is_a_day_picker_of_its_window_too(client, clinic):
    appointments = book_series(client, clinic)
    login(client, clinic.patient.email)
    url = f"/me/appointments/{appointments[1].id}/reschedule"
    page = client.get(url)
    days = picker_days(page)
    before, after = (a.start_at.astimezone(TZ).date() for a in (appointments[0], appointments[2]))
    assert days and all(10 <= (d - before).days <= 21 and 10 <= (after - d).days <= 21 for d in days)
    options = choices.reschedule_options(Actor.of(clinic.patient), appointments[1].id)
    assert days == {s.start.astimezone(TZ).date() for s in options}
    # The session's own day first; another day on asking; each time with whom.
    own = appointments[1].start_at.astimezone(TZ).date()
    other = max(days)
    for day, response in ((own, page), (other, client.get(url, query_string={"day": other.isoformat()}))):
        values = [unescape(v) for v in re.findall(r'name="slot" value="([^"]+)"', response.get_data(as_text=True))]
        assert values and {datetime.fromisoformat(v.split("|")[0]).astimezone(TZ).date() for v in values} == {day}
    moved = client.post(url, data={"slot": values[0]})
    assert moved.headers["Location"].endswith("/me")
    db.session.expire_all()
    assert db.session.get(Appointment, appointments[1].id).start_at == datetime.fromisoformat(values[0].split("|")[0])
