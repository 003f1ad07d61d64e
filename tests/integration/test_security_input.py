"""Issue 12, findings 11 and 12: a reused Idempotency-Key with another body, and bad input that
once gave 500s (each case a test), control characters refused everywhere, and a bounded fuzz
of every HTML form and query string."""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from wtforms.fields.core import UnboundField

from booking.extensions import db
from booking.models import Appointment, Intake, User
from tests.integration.clinic import PASSWORD, Api, at, book_consultation, build_clinic, monday_in

BIG = "9223372036854775808"  # one past the largest 64-bit integer


@pytest.fixture
def clinic(app):
    return build_clinic()


def login(client, email, password=PASSWORD):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def booked(clinic, patient=None, weeks=3, hour=10) -> Appointment:
    """A booked consultation in a few weeks (outside every cut-off)."""
    return book_consultation(clinic, patient or clinic.patient, at(monday_in(weeks), hour), status="booked")


# --- finding 11: Idempotency-Key reused with a different body -------------------------------
def test_idempotency_key_reused_with_a_different_body_is_422(client, clinic):
    api = Api(client, clinic.receptionist.email)
    payload = {"treatment": "consultation", "start": at(monday_in(2), 10).isoformat(),
               "practitioner_id": clinic.anna.id, "patient_id": clinic.patient.id}
    first = api.post("/appointments", payload, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    other = api.post("/appointments", {**payload, "start": at(monday_in(2), 11).isoformat()},
                     headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422, other.get_json()
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    for_another = api.post("/appointments", {**payload, "patient_id": clinic.other_patient.id},
                           headers={"Idempotency-Key": "k-1"})
    assert for_another.status_code == 422
    # The same instant written with another offset is the same request: the first answer again.
    same = api.post("/appointments", {**payload, "start": at(monday_in(2), 10).astimezone().isoformat()},
                    headers={"Idempotency-Key": "k-1"})
    assert same.status_code == 201 and same.get_json() == first.get_json()
    assert count(Appointment) == 1


def test_idempotency_key_reused_for_a_different_series_is_422(client, clinic):
    api = Api(client, clinic.receptionist.email)
    payload = {"treatment": "consultation", "patient_id": clinic.patient.id,
               "sessions": [{"start": at(monday_in(2), 10).isoformat(), "practitioner_id": clinic.anna.id}]}
    assert api.post("/series", payload, headers={"Idempotency-Key": "s-1"}).status_code == 201
    changed = {**payload, "sessions": [{"start": at(monday_in(2), 10).isoformat(), "practitioner_id": clinic.bruno.id}]}
    again = api.post("/series", changed, headers={"Idempotency-Key": "s-1"})
    assert again.status_code == 422 and again.get_json()["error"]["code"] == "idempotency_key_reused"
    assert api.post("/series", payload, headers={"Idempotency-Key": "s-1"}).status_code == 201


# --- finding 12: each reproduced 500 --------------------------------------------------------
def _slot(start, practitioner_id) -> str:
    return f"{start.isoformat()}|{practitioner_id}"


def test_series_page_with_a_negative_replan_is_a_client_error(client, clinic):
    login(client, clinic.patient.email)
    book_consultation(clinic, clinic.patient, at(monday_in(0), 9) - timedelta(days=7))
    s = _slot(at(monday_in(3), 10), clinic.anna.id)
    for replan in ("-1", "4", "99", BIG):
        response = client.get("/book/mesotherapy-face/series", query_string={"s": s, "replan": replan})
        assert response.status_code < 500, replan
    assert client.get("/book/mesotherapy-face/series", query_string={"s": s, "replan": "0"}).status_code == 200


@pytest.mark.parametrize("name", ["series", "appointment"])
def test_done_page_with_an_out_of_range_id_is_not_found(client, clinic, name):
    login(client, clinic.patient.email)
    for value in (BIG, "-1", "0"):
        response = client.get("/book/done", query_string={name: value})
        assert response.status_code in (200, 404), (value, response.status_code)


def test_a_slot_with_an_out_of_range_practitioner_is_refused_before_review(client, clinic):
    login(client, clinic.patient.email)
    picked = client.get("/book/consultation/pick", query_string={"slot": _slot(at(monday_in(2), 10), BIG)})
    assert picked.status_code == 400
    assert client.post("/book/review", data={}).status_code < 500
    assert client.get("/book/review").status_code < 500


def test_fifty_one_sessions_in_the_series_form_are_refused(client, clinic):
    login(client, clinic.patient.email)
    book_consultation(clinic, clinic.patient, at(monday_in(0), 9) - timedelta(days=7))
    sessions = ",".join(_slot(at(monday_in(3), 10) + timedelta(days=14 * i), clinic.anna.id) for i in range(51))
    response = client.post("/book/mesotherapy-face/series", data={"sessions": sessions, "prep_read": "y"})
    assert response.status_code == 400
    assert client.post("/book/review", data={"prep_read": "y"}).status_code < 500
    many = client.get("/book/mesotherapy-face/series", query_string={"s": sessions.split(",")})
    assert many.status_code == 400


@pytest.mark.parametrize("when", ["9999-12-31T00:00:00+00:00", "0001-01-01T00:00:00+00:00",
                                  "0001-01-01T00:00:00+01:00"])
def test_rescheduling_to_an_absurd_year_is_refused(client, clinic, when):
    appointment = booked(clinic)
    login(client, clinic.patient.email)
    response = client.post(f"/me/appointments/{appointment.id}/reschedule", data={"slot": f"{when}|{clinic.anna.id}"})
    assert response.status_code in (302, 400), response.status_code
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).start_at == at(monday_in(3), 10)


@pytest.mark.parametrize("when", ["9999-12-31T00:00:00+00:00", "0001-01-01T00:00:00+00:00"])
def test_rescheduling_through_the_api_to_an_absurd_year_is_400(client, clinic, when):
    appointment = booked(clinic)
    response = Api(client, clinic.patient.email).patch(f"/appointments/{appointment.id}", {"start": when})
    assert response.status_code == 400, response.get_json()


@pytest.mark.parametrize("body", [[1, 2, 3], "text", 7, None, {"start": ["a", "b"]}, {"start": {"x": 1}}])
def test_calendar_move_with_a_json_body_that_is_not_an_object_is_400(client, clinic, body):
    appointment = booked(clinic)
    login(client, clinic.receptionist.email)
    response = client.post(f"/reception/api/appointments/{appointment.id}/move", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("path", ["/login", "/register"])
def test_a_next_with_a_line_break_goes_home_instead_of_500(client, clinic, path):
    login(client, clinic.patient.email)
    for target in ("/me\r\nX:1", "/me\nX:1", "/me\x00", "/me\tx"):
        response = client.get(path, query_string={"next": target})
        assert response.status_code == 302, (target, response.status_code)
        assert "X:1" not in response.headers["Location"] and "\n" not in response.headers["Location"]


# --- control characters: a clear form error in every text input -----------------------------
def test_a_line_break_in_the_hidden_next_field_still_signs_in_and_goes_home(client, clinic):
    response = client.post("/login", data={"email": clinic.patient.email, "password": PASSWORD,
                                           "next": "/me\r\nX:1"})
    assert response.status_code == 302 and response.headers["Location"] == "/me"


@pytest.mark.parametrize("bad", ["Nina\x00New", "Nina\r\nBcc: x@example.com", "Nina\x07", "Nina\x7f"])
def test_register_refuses_control_characters_in_the_name(client, clinic, bad):
    response = client.post("/register", data={
        "name": bad, "email": "nina@example.com", "phone": "+39 333 1234567",
        "password": "long-enough-pw", "confirm": "long-enough-pw"})
    assert response.status_code == 200
    assert "control characters" in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "nina@example.com")) is None


def test_intake_notes_refuse_nul_and_keep_line_breaks(client, clinic):
    login(client, clinic.patient.email)
    refused = client.post("/me/intake", data={"notes": "aspirin\x00daily", "confirm": "y"})
    assert refused.status_code == 200 and "control characters" in refused.get_data(as_text=True)
    accepted = client.post("/me/intake", data={"notes": "aspirin daily\r\nand\tibuprofen", "confirm": "y"})
    assert accepted.status_code == 302
    intake = db.session.scalar(select(Intake).where(Intake.patient_id == clinic.patient.id))
    assert "ibuprofen" in (intake.notes or "")


def test_every_form_refuses_control_characters_in_its_text_fields(app):
    """Every FlaskForm in booking/web/*/forms.py shares the rule (through its base class)."""
    from booking.web import forms_base
    from booking.web.admin import forms as admin_forms
    from booking.web.auth import forms as auth_forms
    from booking.web.book import forms as book_forms
    from booking.web.portal import forms as portal_forms
    from booking.web.reception import forms as reception_forms
    from flask_wtf import FlaskForm

    classes = [book_forms.intake_form_class()]
    for module in (admin_forms, auth_forms, book_forms, portal_forms, reception_forms):
        classes += [c for c in vars(module).values()
                    if isinstance(c, type) and issubclass(c, FlaskForm) and c.__module__ == module.__name__]
    assert len(classes) > 10
    plain = [c.__name__ for c in classes if not issubclass(c, forms_base.SafeForm)]
    assert not plain, f"forms without the control-character rule: {plain}"


def test_api_text_fields_refuse_control_characters(client, clinic):
    api = Api(client, clinic.receptionist.email)
    response = api.post("/appointments", {"treatment": "consultation", "start": at(monday_in(2), 10).isoformat(),
                                          "practitioner_id": clinic.anna.id, "patient_id": clinic.patient.id,
                                          "override_reason": "because\x1b[31m"})
    assert response.status_code == 400
    assert count(Appointment) == 0


# --- a bounded property-based fuzz of every HTML query string and form ---------------------
# Each role and method is one Hypothesis run over all the routes that role can reach,
# derandomized so a failure reproduces, with a fixed budget of examples (a few seconds per
# family). Each route is sent the names its view reads (request.args/request.form and the
# fields of the forms it builds) with values mostly from a list of known troublemakers.
# The JSON API has its own schema-driven fuzz in test_api_schema_fuzz.py.
# Routes the fuzz leaves alone: they end the session it runs in (the rest of the run would be
# anonymous), or they are not HTML (the API, static files, feeds: tested elsewhere).
SKIP = {"auth.logout", "portal.delete_account", "admin.erase", "static", "feeds.feed"}
# Names read through helpers the source scan cannot see, and noise.
EXTRA_NAMES = ["next", "date", "day", "month", "page", "s", "slot", "zz"]

EDGE_TEXT = ["", "-1", "0", "2147483648", "9223372036854775808", "1e309", "0001-01-01", "9999-12-31", "2030-02-30",
             "2030-01-07T10:00:00+01:00|1", "9999-12-31T00:00:00+00:00|1", "0001-01-01T00:00:00+00:00|1",
             "2030-01-07T10:00:00+01:00|9223372036854775808", "9999-12-31T23:59", "0001-01-01T00:00",
             "/me\r\nX:1", "//evil.example", "a\x00b", "\u2028", "%", "<script>x</script>", "consultation",
             "mesotherapy-face", "series", "y", "x" * 3000]
edge = st.sampled_from(EDGE_TEXT)
text_values = st.one_of(edge, edge, edge, st.text(max_size=40))
values = st.one_of(text_values, st.lists(text_values, min_size=2, max_size=3))


def form_classes() -> dict[str, set[str]]:
    """Field names of every form in booking/web/*/forms.py, by class name."""
    from booking.web.admin import forms as admin_forms
    from booking.web.auth import forms as auth_forms
    from booking.web.book import forms as book_forms
    from booking.web.portal import forms as portal_forms
    from booking.web.reception import forms as reception_forms

    fields: dict[str, set[str]] = {}
    classes = [book_forms.intake_form_class()]
    for module in (admin_forms, auth_forms, book_forms, portal_forms, reception_forms):
        classes += [c for c in vars(module).values() if isinstance(c, type)]
    for cls in classes:
        names = {name for name in dir(cls) if isinstance(getattr(cls, name, None), UnboundField)}
        fields.setdefault(cls.__name__, set()).update(names)
    fields["BookingForm"] |= {f"sessions-{i}-{part}" for i in range(3) for part in ("start", "practitioner")}
    return fields


def names_read_by(app, endpoint: str, forms: dict[str, set[str]]) -> list[str]:
    """The query and form names the view of ``endpoint`` reads, from its source."""
    source = inspect.getsource(inspect.unwrap(app.view_functions[endpoint]))
    names = set(re.findall(r'request\.(?:args|form)(?:\.get(?:list)?\(|\[)"(\w+)"', source))
    for form_name in re.findall(r"\b(\w+Form)\(", source):
        names |= forms.get(form_name, set())
    if "intake_form_class" in source:
        names |= forms["IntakeForm"]
    return sorted(names)


def fetch(app, client, method: str, path: str, **kwargs):
    """One request in its own app context: Flask-Login caches the signed-in user in ``g``,
    which would otherwise be shared by the clients of every role under the test's context."""
    with app.app_context():
        response = client.open(path, method=method, **kwargs)
        response.close()
    return response


def routes(app, client, method: str) -> list[tuple[str, list[str]]]:
    """The app's HTML routes answering ``method`` that ``client``'s role may use (a first plain
    request is not refused with 401/403 or sent to sign in), so the budget goes where the role
    can reach (the refusals are tested by the role tests); each with the names its view reads."""
    forms = form_classes()
    reachable = []
    for rule in app.url_map.iter_rules():
        if method not in rule.methods or rule.endpoint in SKIP or rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", lambda m: "1" if m.group(1) == "int" else "consultation",
                      rule.rule)
        response = fetch(app, client, method, path)
        status, location = response.status_code, response.headers.get("Location", "")
        assert status < 500, f"{method} {path} answered {status}"
        if status not in (401, 403) and "/login" not in location:
            reachable.append((rule.rule, names_read_by(app, rule.endpoint, forms)))
    return reachable


ids = st.sampled_from(["1", "2", "3", "4", "5", "100", "2147483647"])
words = st.sampled_from(["consultation", "mesotherapy-face", "hours", "time-off", "closure", "x", "a%20b",
                         "..", "message.eml", "0"])


@st.composite
def requests_to(draw, rules):
    """A concrete path for one of ``rules`` (ids of rows that exist, and some that do not), and
    a mapping of names to values: one of the names its view reads set to one of the known
    troublemakers (drawn as one choice, so Hypothesis, which never repeats an example, spreads
    the budget over distinct route/name/value triples), plus a few random others."""
    triples = [(rule, name, value) for rule, own in rules for name in (own or EXTRA_NAMES) for value in EDGE_TEXT]
    rule, name, value = draw(st.sampled_from(triples))

    def fill(match: re.Match) -> str:
        return draw(ids) if match.group(1) == "int" else quote(draw(words), safe="")

    path = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", fill, rule)
    own = dict(rules)[rule] or EXTRA_NAMES
    others = draw(st.dictionaries(st.sampled_from(sorted(set(own) | set(EXTRA_NAMES))), values, max_size=3))
    return path, {**others, name: value}


ROLES = ["anonymous", "patient", "receptionist", "practitioner_user", "admin"]


@pytest.fixture
def signed_in(app):
    """One test client per role, signed in (CSRF is off in the testing config)."""
    clinic = build_clinic()
    for weeks in (2, 3):
        book_consultation(clinic, clinic.patient, at(monday_in(weeks), 10), status="booked")
    clients = {}
    for role in ROLES:
        client = app.test_client()
        if role != "anonymous":
            response = fetch(app, client, "POST", "/login",
                             data={"email": getattr(clinic, role).email, "password": PASSWORD})
            assert response.status_code == 302
        clients[role] = client
    return clients


FUZZ = settings(max_examples=250, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _check(response, method, path, data) -> None:
    assert response.status_code < 500, f"{method} {path} {data!r} answered {response.status_code}"


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_no_query_string_gives_a_server_error(app, signed_in, role):
    client = signed_in[role]

    @FUZZ
    @given(request=requests_to(routes(app, client, "GET")))
    def run(request):
        path, params = request
        _check(fetch(app, client, "GET", path, query_string=params), "GET", path, params)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_no_form_post_gives_a_server_error(app, signed_in, role):
    client = signed_in[role]

    @FUZZ
    @given(request=requests_to(routes(app, client, "POST")))
    def run(request):
        path, data = request
        _check(fetch(app, client, "POST", path, data=data), "POST", path, data)

    run()
