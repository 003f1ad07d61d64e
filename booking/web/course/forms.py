"""Forms of the course pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, IntegerField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from booking.scheduling.course import DONE, NOT_DONE
from booking.web.forms_base import SafeForm

ANSWER_CHOICES = [SelectChoice(DONE, _l("Done")), SelectChoice(NOT_DONE, _l("Not done / not sure"))]


def checklist_form_class(keys: list[tuple[str, str]]):
    """A form with one "done / not done" question per prep step (key, instruction)."""

    class ChecklistForm(SafeForm):
        """The prep checklist of one session."""

    for key, instruction in keys:
        setattr(ChecklistForm, f"step_{key}", RadioField(instruction, choices=ANSWER_CHOICES,
                                                         validators=[DataRequired(_l("Answer every step."))]))
    return ChecklistForm


class MaintenanceForm(SafeForm):
    """Book the proposed maintenance (the times come from the proposal, checked again on booking)."""

    session_start = HiddenField(validators=[DataRequired()])
    session_practitioner = HiddenField(validators=[DataRequired()])
    consultation_start = HiddenField()
    consultation_practitioner = HiddenField()


class DeclineForm(SafeForm):
    """Not now, thank you."""

    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=200)])


class CourseForm(SafeForm):
    """A series recorded as a prepaid course."""

    sessions = IntegerField(_l("Sessions paid for"), validators=[Optional(), NumberRange(min=1, max=100)])
    expires_on = DateField(_l("To be used by"), validators=[Optional()])
