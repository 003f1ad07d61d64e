"""The JSON API v1 (DESIGN §6): token or session auth, the error body, OpenAPI from the schemas."""

from __future__ import annotations

from flask import Response, current_app, g, jsonify, request
from flask_login import current_user
from flask_openapi3 import APIBlueprint, Tag
from pydantic import ValidationError

from booking import error_body
from booking.extensions import csrf
from booking.services.actor import Actor
from booking.services.errors import RuleViolation, ServiceError
from booking.services.tokens import user_for_api_token
from booking.web.api import schemas

ERROR_RESPONSES = {code: schemas.ErrorBody for code in (400, 401, 403, 404, 409, 422, 429)}
SECURITY = [{"bearer": []}, {"session": []}]
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/tokens"},
    "session": {"type": "apiKey", "in": "cookie", "name": "session",
                "description": "A signed-in browser session (send X-CSRFToken on writes)"},
}

api = APIBlueprint("api", __name__, url_prefix="/api/v1", abp_responses=ERROR_RESPONSES)
csrf.exempt(api)

catalog_tag = Tag(name="catalog", description="Treatments and practitioners")
booking_tag = Tag(name="booking", description="Availability, plans, appointments and series")
access_tag = Tag(name="access", description="Tokens and calendar feeds")


def json_response(model, status: int = 200) -> Response:
    """A pydantic model as a JSON response."""
    response = current_app.response_class(model.model_dump_json(), mimetype="application/json")
    response.status_code = status
    return response


def error_response(status: int, code: str, message: str, problems=None) -> Response:
    """A JSON error response in the contract's shape."""
    response = jsonify(error_body(code, message, problems))
    response.status_code = status
    return response


def validation_error(e: ValidationError) -> Response:
    """Bad input is a 400 that names each wrong field."""
    details = []
    for err in e.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        details.append(f"{where}: {err.get('msg')}")
    return error_response(400, "invalid_input", "Invalid input. " + "; ".join(details))


@api.before_request
def authenticate() -> Response | None:
    """Set ``g.actor`` from a bearer token or the browser session (None when anonymous)."""
    g.actor = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        user = user_for_api_token(secret.strip()) if scheme.lower() == "bearer" and secret.strip() else None
        if user is None:
            return error_response(401, "invalid_token",
                                  "The token is missing, wrong, expired or revoked; get one from POST /api/v1/tokens.")
        g.actor = Actor.of(user)
        return None
    if current_user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        g.actor = Actor.of(current_user)
    return None


def actor_required() -> Actor:
    """The signed-in caller, or a 401."""
    if g.get("actor") is None:
        raise ServiceError("Sign in first: send Authorization: Bearer <token>.", code="unauthorized")
    return g.actor


@api.errorhandler(ServiceError)
def handle_service_error(error: ServiceError) -> Response:
    """Use-case refusals become the contract's error body."""
    if error.code == "unauthorized":
        return error_response(401, "unauthorized", error.message)
    problems = None
    if isinstance(error, RuleViolation):
        problems = [{"code": p.code, "message": p.message, "session_index": p.session_index}
                    for p in error.problems]
    return error_response(error.status, error.code, error.message, problems)


from booking.web.api import course_routes, hold_routes, intake_routes, offer_routes, routes, waitlist_routes  # noqa: E402,F401  (registers the views on api)
