"""Property-based fuzzing of the JSON API against its own OpenAPI document (DESIGN §6).

Schemathesis reads ``/api/v1/openapi.json`` from the app and sends generated requests to every
operation, as a receptionist and as a patient (bearer tokens from ``build_clinic()``). Every
answer must be a documented status (never a 5xx) with a body matching the documented schema.
Both positive (schema-valid) and negative (schema-violating) requests are generated; each
operation runs on a fresh database holding the test clinic, a consultation and a booked series.

Only the contract checks run: schemathesis' ``positive_data_acceptance`` would demand a 2xx for
any schema-valid request, which the booking rules rightly refuse (unknown slug, past start, ...).
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.security import generate_password_hash

from tests.integration.clinic import Api, at, book_consultation, build_clinic, monday_in, token_for

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 30  # per operation, role and backend: about 40 s per backend on two cores
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def fast_passwords(monkeypatch):
    """Cheap password hashes: every test builds a clinic of six users (scrypt costs ~0.1 s each)."""
    monkeypatch.setattr("booking.models.people.generate_password_hash",
                        partial(generate_password_hash, method="pbkdf2:sha256:1"))


@pytest.fixture(params=["receptionist", "patient"])
def caller_email(request, app, fast_passwords) -> str:
    """A clinic with some bookings in it; the e-mail of the user the fuzzer calls as."""
    clinic = build_clinic()
    # Something to read, move and cancel: a consultation and a whole series for the patient.
    book_consultation(clinic, clinic.patient, at(monday_in(2), 9))
    reception = Api(app.test_client(), clinic.receptionist.email)
    starts = [at(monday_in(3) + timedelta(days=14 * i), 10) for i in range(4)]
    booked = reception.post("/series", {"treatment": "mesotherapy-face", "patient_id": clinic.patient.id,
                                        "sessions": [{"start": s.isoformat(), "practitioner_id": clinic.anna.id}
                                                     for s in starts]})
    assert booked.status_code == 201, booked.get_json()
    return getattr(clinic, request.param).email


@pytest.fixture
def auth_headers(app, caller_email) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(app.test_client(), caller_email)}"}


def _openapi_document() -> dict:
    """The app's OpenAPI document (it does not depend on the database)."""
    from booking import create_app

    response = create_app("testing").test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


# Loaded once at import; every request goes to the test's own app (``app=`` below).
# (``schemathesis.pytest.from_fixture`` would be the natural choice, but schemathesis 4.32.5's
# lazy loader sets ``Function._nodeid``, which pytest 9.2 no longer has: AttributeError.)
schema = schemathesis.openapi.from_dict(_openapi_document())


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_every_answer_is_documented_and_never_a_server_error(case, app, auth_headers):
    case.call_and_validate(app=app, headers=auth_headers, checks=CHECKS)
