"""Every staff route checks the role: anonymous visitors go to sign-in, patients get 403,
practitioners read the calendar but change nothing (403 on every POST and every /admin page)."""

from __future__ import annotations

import re

import pytest

from booking.extensions import db
from booking.models import Appointment
from tests.integration.clinic import PASSWORD, at, build_clinic, monday_in

PREFIXES = ("/reception", "/admin", "/staff")
MISSING = {"/reception/my-schedule", "/staff/mail/<name>", "/reception/recalls/<int:recall_id>"}  # 404 for these users: no schedule, no such mail, no recall
# Pages a practitioner may read.
PRACTITIONER_READS = {"/reception", "/reception/api/resources", "/reception/api/events", "/reception/api/background",
                      "/reception/appointments/<int:appointment_id>", "/reception/day-sheet", "/reception/my-schedule",
                      "/reception/patients/<int:patient_id>/health"}
# The one clinical write a practitioner makes: clearing a patient for a contraindicated treatment
# (posted empty here, so it answers with the form's message and writes nothing).
PRACTITIONER_WRITES = {"/reception/patients/<int:patient_id>/health"}
# Health answers are for practitioners and admins, not the front desk.
NOT_FOR_RECEPTION = {"/reception/patients/<int:patient_id>/health"}


PATIENT_ID = 3  # build_clinic's first patient (after the two practitioners' users)


def staff_routes(app) -> list[tuple[str, str, str]]:
    """(rule, method, url) for every route of the reception and admin blueprints."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIXES):
            continue
        name = re.sub(r"<int[^:>]*:([a-z_]+)>", r"<int:\1>", rule.rule)  # ids are bounded: <int(max=...):id>
        url = re.sub(r"<int:patient_id>", str(PATIENT_ID), name)
        url = re.sub(r"<int:[a-z_]+>", "1", url).replace("<kind>", "exception").replace("<name>", "none.eml")
        if rule.rule.startswith("/reception/api/") and rule.rule.endswith(("events", "background")):
            url += "?start=2030-03-04T00:00:00&end=2030-03-11T00:00:00"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((name, method, url))
    return out


def login(client, email):
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, "sign-in failed"


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    assert clinic.patient.id == PATIENT_ID
    appointment = Appointment(patient_id=clinic.patient.id, practitioner_id=clinic.anna.id, room_id=clinic.room.id,
                              treatment_id=clinic.face.id, status="booked")
    appointment.place(at(monday_in(3), 10), 30, 0, 10)
    db.session.add(appointment)
    db.session.commit()
    return clinic


def call(client, method, url):
    return client.open(url, method=method, data={}, headers={"Accept": "text/html"})


def test_routes_are_all_covered(app, clinic):
    routes = staff_routes(app)
    assert len({r for r, _, _ in routes}) >= 38
    assert any(m == "POST" for _, m, _ in routes)


def test_anonymous_visitors_are_sent_to_sign_in(app, client, clinic):
    for rule, method, url in staff_routes(app):
        response = call(client, method, url)
        assert response.status_code == 302, (method, url, response.status_code)
        assert "/login" in response.headers["Location"], (method, url)


def test_patients_get_403_everywhere(app, client, clinic):
    login(client, clinic.patient.email)
    for rule, method, url in staff_routes(app):
        assert call(client, method, url).status_code == 403, (method, url)


def test_practitioners_read_the_calendar_and_change_nothing(app, client, clinic):
    login(client, clinic.practitioner_user.email)
    for rule, method, url in staff_routes(app):
        status = call(client, method, url).status_code
        if (method == "GET" and rule in PRACTITIONER_READS) or (method == "POST" and rule in PRACTITIONER_WRITES):
            assert status == 200, (method, url, status)
        else:
            assert status == 403, (method, url, status)
    # The panel shows no action buttons to a practitioner.
    page = client.get("/reception/appointments/1").get_data(as_text=True)
    assert "Check in" not in page and "Cancel appointment" not in page
    db.session.rollback()
    assert db.session.get(Appointment, 1).status == "booked"


def test_receptionists_use_reception_but_not_the_admin_pages(app, client, clinic):
    login(client, clinic.receptionist.email)
    for rule, method, url in staff_routes(app):
        if method != "GET":
            continue
        status = call(client, method, url).status_code
        if ((rule.startswith("/admin") and rule not in ("/admin/audit", "/admin/outbox")) or rule in NOT_FOR_RECEPTION
                or rule == "/staff/mail"):  # the development mailbox is for admins only
            assert status == 403, (url, status)
        elif rule not in MISSING:
            assert status == 200, (url, status)


def test_admins_open_every_page(app, client, clinic):
    login(client, clinic.admin.email)
    for rule, method, url in staff_routes(app):
        if method == "GET" and rule not in MISSING:
            assert call(client, method, url).status_code == 200, url


JUNK = {"start": "2030-13-45T99:99", "end": "x", "practitioner": "abc", "patient_id": "-1", "treatment": "<script>",
        "mode": "both", "action": "explode", "reason": "r" * 600, "day": "yesterday", "hours_0": "all day",
        "slug": "../../etc", "sessions": "many", "timezone": "Nowhere/City", "role": "owner", "email": "@",
        "closure-start": "soon", "off-start": "later", "duration_minutes": "-5", "lead_hours": "1e9",
        "next": "//evil.example/", "q": "%' OR 1=1 --", "date": "2030-02-30", "first_day": "0000-00-00",
        "appointment": "99999999999999999999", "page": "99999999999999999999", "status": "lost",
        "patient": "99999999999999999999", "actor": "99999999999999999999"}


def test_junk_input_never_gives_a_server_error(app, client, clinic):
    login(client, clinic.admin.email)
    for rule, method, url in staff_routes(app):
        for data in (JUNK, {}):
            if method == "GET":
                response = client.get(url.split("?")[0], query_string=data)
            else:
                response = client.open(url, method=method, data=data)
            assert response.status_code < 500, (method, url, response.status_code)
            if response.status_code in (301, 302, 303):
                assert response.headers["Location"].startswith("/"), (method, url)
    response = client.post("/reception/api/appointments/1/move", data="{not json", content_type="application/json")
    assert response.status_code == 400
    db.session.rollback()
    assert db.session.get(Appointment, 1).status == "booked"


def test_ids_beyond_the_databases_range_are_404(app, client, clinic):
    login(client, clinic.admin.email)
    huge = 2 ** 63
    for rule, method, url in staff_routes(app):
        if "<int:" not in rule:
            continue
        url = re.sub(r"<int:[a-z_]+>", str(huge), rule).replace("<kind>", "exception")
        assert client.open(url, method=method, data={}).status_code < 500, (method, url)
