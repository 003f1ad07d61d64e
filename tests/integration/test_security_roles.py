"""Issue 12, findings 3, 4 and 14 and the roles table: who may make and revoke calendar feeds, a
feed dying with its maker's access, the admin's list of every feed, practitioners reading only
their own patients' questionnaires, and every route answering as ``booking.web.roles`` says."""

from __future__ import annotations

import re

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import select

from booking.extensions import db
from booking.models import INTAKE_QUESTIONS, Appointment, AuditEvent, FeedToken, User
from booking.web import roles
from tests.integration.clinic import (
    PASSWORD,
    Api,
    at,
    build_clinic,
    monday_in,
    token_for,
)
from tests.integration.factories import make_user


@pytest.fixture
def clinic(app):
    """The test clinic with one booking of Paola's with Anna (none with Bruno)."""
    clinic = build_clinic()
    appointment = Appointment(patient_id=clinic.patient.id, practitioner_id=clinic.anna.id, room_id=clinic.room.id,
                              treatment_id=clinic.face.id, status="booked")
    appointment.place(at(monday_in(3), 10), 30, 0, 10)
    db.session.add(appointment)
    db.session.commit()
    return clinic


class Browser(FlaskClient):
    """A test client that forgets the user Flask-Login keeps in ``g``: the tests run inside one
    app context, which every request reuses, so the last user loaded would answer for all."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        try:
            return super().open(*args, **kwargs)
        finally:
            g.pop("_login_user", None)


def browser(app) -> Browser:
    """A browser that is not signed in."""
    return Browser(app, app.response_class, use_cookies=True)


def signed_in(app, email):
    """A browser client signed in as ``email``."""
    client = browser(app)
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, "sign-in failed"
    return client


def make_feed(api, scope, target=None):
    """(feed path, feed id) of a new feed made through the API."""
    response = api.post("/feeds", {"scope": scope, **({"id": target} if target is not None else {})})
    assert response.status_code == 201, response.get_json()
    return "/feeds/" + response.get_json()["url"].rsplit("/feeds/", 1)[1], response.get_json()["id"]


# --- finding 3: practitioners manage only their own diary feed -------------------------------
def test_practitioners_make_only_their_own_diary_feed(client, clinic):
    anna = Api(client, clinic.practitioner_user.email)
    for body in ({"scope": "clinic"}, {"scope": "practitioner", "id": clinic.bruno.id},
                 {"scope": "room", "id": clinic.room.id}, {"scope": "patient", "id": clinic.patient.id}):
        response = anna.post("/feeds", body)
        assert response.status_code == 403, (body, response.status_code)
    assert response.get_json()["error"]["message"]
    make_feed(anna, "practitioner", clinic.anna.id)
    # Patients: their own appointments only; reception and admin: any scope (as before).
    paola = Api(client, clinic.patient.email)
    assert paola.post("/feeds", {"scope": "patient", "id": clinic.other_patient.id}).status_code == 403
    assert paola.post("/feeds", {"scope": "clinic"}).status_code == 403
    make_feed(paola, "patient")
    for email in (clinic.receptionist.email, clinic.admin.email):
        staff = Api(client, email)
        make_feed(staff, "clinic")
        make_feed(staff, "room", clinic.room.id)
        make_feed(staff, "patient", clinic.other_patient.id)
    assert db.session.scalar(select(db.func.count(FeedToken.id))) == 8


def test_the_calendar_page_offers_a_practitioner_only_their_own_diary(app, clinic):
    browser = signed_in(app, clinic.practitioner_user.email)
    page = browser.get("/calendar").get_data(as_text=True)
    assert f'value="practitioner:{clinic.anna.id}"' in page
    assert 'value="clinic:"' not in page and f'value="practitioner:{clinic.bruno.id}"' not in page
    assert f'value="room:{clinic.room.id}"' not in page
    for value in ("clinic:", f"practitioner:{clinic.bruno.id}", f"room:{clinic.room.id}"):
        browser.post("/calendar", data={"target": value})
    assert db.session.scalar(select(db.func.count(FeedToken.id))) == 0
    browser.post("/calendar", data={"target": f"practitioner:{clinic.anna.id}"})
    db.session.rollback()
    assert [(f.scope, f.target_id) for f in db.session.scalars(select(FeedToken))] == [("practitioner", clinic.anna.id)]


def test_only_the_maker_or_an_admin_revokes_a_feed_and_others_get_404(app, client, clinic):
    rita = Api(client, clinic.receptionist.email)
    path, feed_id = make_feed(rita, "clinic")
    make_user(name="Rosa Reception", role="receptionist", email="rosa@example.com")
    db.session.commit()
    for email in (clinic.practitioner_user.email, clinic.patient.email, "rosa@example.com"):
        response = Api(client, email).delete(f"/feeds/{feed_id}")
        assert response.status_code == 404, (email, response.status_code)
        assert Api(client, email).delete("/feeds/999999").status_code == 404  # the same answer as none at all
    # The web page's revoke button follows the same rule.
    signed_in(app, clinic.practitioner_user.email).post(f"/calendar/{feed_id}/revoke", data={})
    assert client.get(path).status_code == 200
    assert Api(client, clinic.admin.email).delete(f"/feeds/{feed_id}").status_code == 204
    assert client.get(path).status_code == 404
    # The maker revokes their own.
    path, feed_id = make_feed(rita, "room", clinic.room.id)
    assert rita.delete(f"/feeds/{feed_id}").status_code == 204
    assert client.get(path).status_code == 404


# --- finding 4: a feed dies with its maker's access --------------------------------------------
def test_a_feed_dies_when_its_maker_is_deactivated_changes_role_or_is_erased(app, client, clinic):
    rita = Api(client, clinic.receptionist.email)
    clinic_path, _ = make_feed(rita, "clinic")
    bruno_path, _ = make_feed(rita, "practitioner", clinic.bruno.id)
    anna_path, _ = make_feed(Api(client, clinic.practitioner_user.email), "practitioner", clinic.anna.id)
    paola_path, _ = make_feed(Api(client, clinic.patient.email), "patient")
    for path in (clinic_path, bruno_path, anna_path, paola_path):
        assert client.get(path).status_code == 200
    receptionist = db.session.get(User, clinic.receptionist.id)
    receptionist.active = False
    db.session.commit()
    assert client.get(clinic_path).status_code == 404
    assert client.get(bruno_path).status_code == 404
    receptionist.active = True
    db.session.commit()
    assert client.get(clinic_path).status_code == 200
    # Rita becomes a practitioner: Bruno's diary and the whole clinic are no longer hers to share.
    receptionist.role = "practitioner"
    db.session.commit()
    assert client.get(clinic_path).status_code == 404
    assert client.get(bruno_path).status_code == 404
    assert "The whole clinic" not in signed_in(app, clinic.receptionist.email).get("/calendar").get_data(as_text=True)
    # Anna moves to the front desk: her own diary is still hers to share.
    db.session.get(User, clinic.practitioner_user.id).role = "receptionist"
    db.session.commit()
    assert client.get(anna_path).status_code == 200
    # A maker erased from the database (the foreign key sets NULL) takes the feed along.
    for feed in db.session.scalars(select(FeedToken).where(FeedToken.scope == "patient")):
        feed.created_by_id = None
    db.session.commit()
    assert client.get(paola_path).status_code == 404


def test_admins_see_every_feed_and_revoke_it_from_the_admin_pages(app, client, clinic):
    path, feed_id = make_feed(Api(client, clinic.receptionist.email), "practitioner", clinic.bruno.id)
    client.get(path)  # marks it used
    admin = signed_in(app, clinic.admin.email)
    assert 'href="/admin/feeds"' in admin.get("/admin").get_data(as_text=True)
    page = admin.get("/admin/feeds")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Rita Reception" in text and "Bruno Practitioner" in text and "Practitioner" in text
    assert f"/admin/feeds/{feed_id}/revoke" in text
    for email in (clinic.receptionist.email, clinic.practitioner_user.email, clinic.patient.email):
        assert signed_in(app, email).get("/admin/feeds").status_code == 403
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert admin.post(f"/admin/feeds/{feed_id}/revoke", data={}).status_code == 400  # no CSRF token
        assert client.get(path).status_code == 200
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', admin.get("/admin/feeds")
                          .get_data(as_text=True)).group(1)
        response = admin.post(f"/admin/feeds/{feed_id}/revoke", data={"csrf_token": token})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 302
    assert client.get(path).status_code == 404
    db.session.rollback()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "feed.revoked"))
    assert event.actor_id == clinic.admin.id and event.entity_id == feed_id
    assert "revoked" in admin.get("/admin/feeds").get_data(as_text=True).lower()


# --- finding 14: practitioners read only their own patients' questionnaires ------------------
def test_practitioners_read_and_clear_only_their_own_patients_questionnaires(app, clinic):
    health = f"/reception/patients/{clinic.patient.id}/health"
    assert signed_in(app, clinic.practitioner_user.email).get(health).status_code == 200  # Anna: her patient
    bruno = signed_in(app, clinic.bruno.user.email)
    assert bruno.get(health).status_code == 404
    response = bruno.post(health, data={"treatment_id": clinic.face.id, "note": "Checked"})
    assert response.status_code == 404
    assert bruno.get(f"/reception/patients/{clinic.other_patient.id}/health").status_code == 404
    assert signed_in(app, clinic.admin.email).get(health).status_code == 200
    assert signed_in(app, clinic.receptionist.email).get(health).status_code == 403
    # A cancelled booking still makes Paola Bruno's patient ("has or had an appointment").
    db.session.execute(db.update(Appointment).values(practitioner_id=clinic.bruno.id, status="cancelled"))
    db.session.commit()
    assert bruno.get(health).status_code == 200


def test_clearing_checks_the_practitioners_patients_in_the_service(app, clinic):
    from booking.services import clearances
    from booking.services.actor import Actor
    from booking.services.errors import NotFound

    with pytest.raises(NotFound):
        clearances.review(clinic.patient.id, Actor(clinic.bruno.user.id, "practitioner"))
    with pytest.raises(NotFound):
        clearances.clear(Actor(clinic.bruno.user.id, "practitioner"), clinic.patient.id, clinic.face.id, "ok")
    patient, _, _ = clearances.review(clinic.patient.id, Actor(clinic.anna.user.id, "practitioner"))
    assert patient.id == clinic.patient.id


# --- the roles table ----------------------------------------------------------------------------
ROLES = ("anonymous", "patient", "practitioner", "receptionist", "admin")
LAST = ("auth.logout", "api.revoke_token")
# Routes whose object does not exist in the fixture clinic, so an allowed role gets a 404 from
# the missing row or file (no feed, erasure request, schedule entry, plan in the session, mail
# or static file; an account with no practitioner schedule), not from its role.
MISSING_HERE = {"admin.revoke_feed", "admin.erase", "admin.delete_entry", "api.revoke_feed", "portal.revoke_feed",
                "feeds.feed", "book.change", "book.done", "portal.series_ics", "reception.my_schedule", "staff.mail_message",
                "openapi.static", "static", "course.maintenance", "course.recall_book",
                "admin.delete_aftercare", "api.book_hold", "api.release_hold",
                "api.accept_offer", "api.decline_offer", "offers.answer",
                "api.withdraw_waitlist_request", "portal.waitlist_withdraw", "reception.waitlist_withdraw"}
# A schema-valid body for each JSON endpoint, so that the answer is about the caller, not the input.
API_BODIES = {
    "api.create_token": {"email": "paola@example.com", "password": PASSWORD},
    # Each role asks for a calendar it may share (its own, for patients and practitioners).
    "api.create_feed": {"patient": {"scope": "patient"}, "practitioner": {"scope": "practitioner"},
                        "receptionist": {"scope": "clinic"}, "admin": {"scope": "clinic"},
                        "anonymous": {"scope": "clinic"}},
    "api.plan_series": {"treatment": "mesotherapy-face", "first_start": "2030-03-04T10:00:00+01:00"},
    "api.create_appointment": {"treatment": "consultation", "start": "2030-03-04T10:00:00+01:00",
                               "practitioner_id": 1},
    "api.create_series": {"treatment": "consultation",
                          "sessions": [{"start": "2030-03-04T10:00:00+01:00", "practitioner_id": 1}]},
    "api.reschedule_appointment": {"start": "2030-03-04T10:00:00+01:00"},
    "api.cancel_appointment": {},
    "api.put_intake": {"answers": {key: False for key in INTAKE_QUESTIONS}},
    "api.put_prep": {"answers": {"prep-1": "done"}},
    "api.accept_offer": {},
    "api.create_waitlist_request": {"treatment": "consultation"},
    "api.create_hold": {"treatment": "consultation", "start": "2030-03-04T10:00:00+01:00", "practitioner_id": 1},
}
# Values for path arguments; ids of rows that exist in the fixture clinic.
ARGUMENTS = {"slug": "consultation", "secret": "not-a-secret", "filename": "missing.css", "kind": "exception",
             "name": "none.eml", "token": "not-a-token", "index": "0"}


def _url(rule, clinic) -> str:
    """A concrete URL for ``rule``: its ids point at the fixture clinic's rows."""
    ids = {"patient_id": clinic.patient.id, "appointment_id": 1, "practitioner_id": clinic.anna.id,
           "user_id": clinic.patient.id, "room_id": clinic.room.id, "treatment_id": clinic.face.id}

    def value(match):
        argument = match.group(1)
        return str(ids.get(argument, 1) if "int" in match.group(0) else ARGUMENTS.get(argument, "x"))

    return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", value, rule.rule)


def _denied(response, role) -> bool:
    """401/403, or the sign-in page for an anonymous browser."""
    if response.status_code in (401, 403):
        return True
    return role == "anonymous" and response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_every_route_has_a_stated_role(app):
    missing = sorted(r.endpoint for r in app.url_map.iter_rules() if roles.allowed(r.endpoint, "GET") is None)
    assert missing == [], "state who may call these in booking/web/roles.py"


def test_every_route_answers_each_role_as_the_roles_table_says(app, clinic):
    clients = {"anonymous": browser(app)}
    emails = {"patient": clinic.patient.email, "practitioner": clinic.practitioner_user.email,
              "receptionist": clinic.receptionist.email, "admin": clinic.admin.email}
    bearer = {"anonymous": {}}
    for role, email in emails.items():
        clients[role] = signed_in(app, email)
        bearer[role] = {"Authorization": f"Bearer {token_for(clients['anonymous'], email)}"}
    checked, wrong = 0, []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in LAST:  # they sign the caller out: checked after the rest
            continue
        url = _url(rule, clinic)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            allowed = roles.allowed(rule.endpoint, method)
            assert allowed is not None, f"{rule.endpoint} has no stated roles"
            for role in ROLES:
                if rule.endpoint.startswith("api."):
                    body = API_BODIES.get(rule.endpoint)
                    body = body.get(role) if body and role in body else body
                    # As an integration calls it: a bearer token (browser sessions need a CSRF header).
                    response = clients["anonymous"].open(url, method=method, headers=bearer[role],
                                                         json=body if method != "GET" else None)
                else:
                    response = clients[role].open(url, method=method, data={}, headers={"Accept": "text/html"})
                db.session.rollback()
                if _denied(response, role) == (role in allowed) or (
                        role in allowed and response.status_code == 404 and rule.endpoint not in MISSING_HERE):
                    wrong.append((rule.endpoint, method, role, response.status_code))
                checked += 1
    assert wrong == [], "these answers differ from booking/web/roles.py:\n" + "\n".join(map(str, wrong))
    assert checked > 400
    for role in ROLES:
        response = clients["anonymous"].delete("/api/v1/tokens", headers=bearer[role])
        assert _denied(response, role) != (role in roles.allowed("api.revoke_token", "DELETE")), role
        response = clients[role].post("/logout")
        assert _denied(response, role) != (role in roles.allowed("auth.logout", "POST")), role
