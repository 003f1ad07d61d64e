"""The JSON API v1 (DESIGN §6): token or session auth, the error body, OpenAPI from the schemas.

Error codes are stable English; error messages are in the caller's language (issue 16: the
``Accept-Language`` header, else the caller's saved preference, else the clinic's default;
``booking.i18n.select_locale``).
"""

from __future__ import annotations

from flask import Response, current_app, g, jsonify, request
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from flask_openapi3 import APIBlueprint, Tag
from pydantic import ValidationError

from booking import UNEXPECTED_ERROR, error_body
from booking.extensions import csrf
from booking.i18n import translate
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
    response = jsonify(error_body(code, translate(message), problems))
    response.status_code = status
    return response


def validation_error(e: ValidationError) -> Response:
    """Bad input is a 400 that names each wrong field, in the caller's language."""
    details = []
    for err in e.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        details.append(_field_error(where, err))
    return error_response(400, "invalid_input", gettext("Invalid input. %(details)s", details="; ".join(details)))


def _field_error(field: str, err: dict) -> str:
    """What is wrong with one field, naming it (pydantic's English replaced where we know the kind)."""
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind == "missing":
        return gettext("%(field)s is required", field=field)
    if kind == "extra_forbidden":
        return gettext("%(field)s is not a field of this request", field=field)
    if kind == "timezone_aware":
        return gettext("%(field)s needs a time zone offset (e.g. 2030-01-07T10:00:00+01:00)", field=field)
    if kind in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"):
        return gettext("%(field)s must be a date and time (e.g. 2030-01-07T10:00:00+01:00)", field=field)
    if kind in ("date_parsing", "date_type", "date_from_datetime_parsing", "date_from_datetime_inexact"):
        return gettext("%(field)s must be a date (YYYY-MM-DD)", field=field)
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return gettext("%(field)s must be a whole number", field=field)
    if kind in ("bool_parsing", "bool_type"):
        return gettext("%(field)s must be true or false", field=field)
    if kind in ("string_type", "string_unicode"):
        return gettext("%(field)s must be text", field=field)
    if kind in ("greater_than_equal", "greater_than"):
        return gettext("%(field)s must be at least %(limit)s", field=field, limit=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return gettext("%(field)s must be at most %(limit)s", field=field, limit=ctx.get("le", ctx.get("lt")))
    if kind == "string_too_long":
        return gettext("%(field)s must be at most %(limit)s characters long", field=field, limit=ctx.get("max_length"))
    if kind == "string_too_short":
        return gettext("%(field)s must be at least %(limit)s characters long", field=field,
                       limit=ctx.get("min_length"))
    if kind in ("literal_error", "enum"):
        return gettext("%(field)s must be one of: %(allowed)s", field=field, allowed=ctx.get("expected", ""))
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return gettext("%(field)s must be an object", field=field)
    if kind == "list_type":
        return gettext("%(field)s must be a list", field=field)
    cause = ctx.get("error")
    if kind == "value_error" and isinstance(cause, ValueError) and cause.args:
        return gettext("%(field)s: %(detail)s", field=field, detail=translate(cause.args[0]))
    return gettext("%(field)s: %(detail)s", field=field, detail=err.get("msg", ""))


# The API's words for HTTP errors that no view answered (an unknown address, a wrong method...).
_HTTP_MESSAGES = {
    400: lazy_gettext("The request could not be understood; check its syntax."),
    401: lazy_gettext("Sign in first: send Authorization: Bearer <token>."),
    403: lazy_gettext("You may not do this."),
    404: lazy_gettext("There is nothing at this address; the API's addresses are listed at /api/v1/openapi.json."),
    405: lazy_gettext("This address does not accept this method; the Allow header lists the ones it does."),
    413: lazy_gettext("The request is too large."),
    415: lazy_gettext("Send the body as JSON (Content-Type: application/json)."),
    429: lazy_gettext("Too many requests; wait a while and try again."),
    500: UNEXPECTED_ERROR,
}


def http_error_message(exc: HTTPException) -> str:
    """The JSON error message of an HTTP error, in the caller's language: ours for werkzeug's
    stock descriptions, else the description a view gave (already in the request's language)."""
    from flask_wtf.csrf import CSRFError

    if isinstance(exc, CSRFError):
        return gettext("The CSRF token is missing or wrong; send the session's token as X-CSRFToken.")
    stock = exc.description is None or exc.description == type(exc).description
    if (stock or exc.code == 429) and exc.code in _HTTP_MESSAGES:
        return str(_HTTP_MESSAGES[exc.code])
    return translate(exc.description or exc.name)


@api.before_request
def authenticate() -> Response | None:
    """Set ``g.actor`` from a bearer token or the browser session (None when anonymous)."""
    g.actor = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        user = user_for_api_token(secret.strip()) if scheme.lower() == "bearer" and secret.strip() else None
        if user is None:
            return error_response(401, "invalid_token", gettext(
                "The token is missing, wrong, expired or revoked; get one from POST /api/v1/tokens."))
        g.actor = Actor.of(user)
        g.api_user_locale = getattr(user, "locale", None)  # for the language of the answer
        return None
    if current_user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        g.actor = Actor.of(current_user)
    return None


def actor_required() -> Actor:
    """The signed-in caller, or a 401."""
    if g.get("actor") is None:
        raise ServiceError(gettext("Sign in first: send Authorization: Bearer <token>."), code="unauthorized")
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
