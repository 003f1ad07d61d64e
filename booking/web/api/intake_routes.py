"""The caller's health questionnaire in the JSON API: read it, fill it in (patients only).

Bookings of a treatment with contraindications are refused with ``intake_required`` until it
is filled in, as the web wizard asks for it first.
"""

from __future__ import annotations

from flask import Response, current_app
from flask_openapi3 import Tag

from booking.models import INTAKE_QUESTIONS, Intake
from booking.services import patients
from booking.web.api import SECURITY, actor_required, api, schemas, serialize

intake_tag = Tag(name="intake", description="The caller's health questionnaire")


def _answer(intake: Intake | None) -> Response:
    """The questions and the stored answers (null when never filled in) as JSON."""
    body = schemas.IntakeOut(
        questions=[schemas.QuestionOut(key=key, text=str(text)) for key, text in INTAKE_QUESTIONS.items()],
        answers=dict(intake.answers) if intake else None,
        notes=intake.notes if intake else None,
        completed_at=serialize.local(intake.completed_at) if intake else None,
    )
    return current_app.response_class(body.model_dump_json(), mimetype="application/json")


@api.get("/intake", tags=[intake_tag], security=SECURITY, responses={200: schemas.IntakeOut})
def get_intake():
    """The questions and the caller's answers (null until filled in); patients only."""
    return _answer(patients.own_intake(actor_required()))


@api.put("/intake", tags=[intake_tag], security=SECURITY, responses={200: schemas.IntakeOut})
def put_intake(body: schemas.IntakeIn):
    """Fill in or replace the caller's questionnaire: every question answered, true or false."""
    return _answer(patients.answer_own_intake(actor_required(), body.answers, body.notes))
