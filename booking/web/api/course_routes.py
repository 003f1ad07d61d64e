"""A session's prep checklist in the JSON API (issue 14): read it, answer it.

Any "not_done" answer gives ``needs_attention`` and, as ``alternatives``, the free times inside
the series window that leave enough time to prepare (each one a valid ``PATCH`` of the
appointment).
"""

from __future__ import annotations

from flask import current_app

from booking.services import course
from booking.web.api import SECURITY, actor_required, api, booking_tag, schemas, serialize


def _answer(sheet: course.Checklist):
    body = schemas.ChecklistOut(
        steps=[schemas.PrepStepOut(key=s.key, instruction=s.instruction, due=serialize.local(s.due)) for s in sheet.steps],
        answers=sheet.answers,
        status=sheet.status,
        answered_at=serialize.local(sheet.answered_at) if sheet.answered_at else None,
        alternatives=[serialize.slot(s) for s in sheet.alternatives],
    )
    return current_app.response_class(body.model_dump_json(), mimetype="application/json")


@api.get("/appointments/<int:appointment_id>/prep", tags=[booking_tag], security=SECURITY,
         responses={200: schemas.ChecklistOut})
def get_prep(path: schemas.AppointmentPath):
    """The session's prep checklist and the answers so far (patients: their own sessions)."""
    return _answer(course.checklist(actor_required(), path.appointment_id))


@api.put("/appointments/<int:appointment_id>/prep", tags=[booking_tag], security=SECURITY,
         responses={200: schemas.ChecklistOut})
def put_prep(path: schemas.AppointmentPath, body: schemas.PrepIn):
    """Answer every prep step "done" or "not_done"; audited. Staff (reception) may record a
    patient's answers taken by phone."""
    return _answer(course.answer_prep(actor_required(), path.appointment_id, dict(body.answers),
                                      callback=body.callback))
