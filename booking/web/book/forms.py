"""Forms of the booking wizard and the patient account pages (shape only)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp

from booking.models import INTAKE_QUESTIONS
from booking.web.forms_base import SafeForm


class ChooseSeriesForm(SafeForm):
    """The proposed sessions (as "iso|practitioner" values) and the prep acknowledgement."""

    sessions = HiddenField(validators=[DataRequired()])
    avoid = HiddenField()
    prep_read = BooleanField(_l("I have read what to do before each session"),
                             validators=[DataRequired(message=_l("Please confirm you have read the prep steps."))])


class ConfirmForm(SafeForm):
    """The final "Book" button, and for a single visit with prep steps their acknowledgement
    (a series acknowledges them on the proposal)."""

    prep_read = BooleanField(_l("I have read what to do before the session"))


class RegisterForm(SafeForm):
    """A new patient account."""

    name = StringField(_l("Full name"), validators=[DataRequired(), Length(min=2, max=120)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    phone = TelField(_l("Phone"), validators=[DataRequired(), Length(min=6, max=40),
                                          Regexp(r"^[0-9 +()./-]+$", message=_l("Use digits, spaces and + - ( ) only."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8, max=200,
                             message=_l("Use at least 8 characters."))])
    confirm = PasswordField(_l("Repeat the password"), validators=[DataRequired(), EqualTo("password",
                            message=_l("The two passwords differ."))])
    next = HiddenField()


def intake_form_class():
    """A questionnaire form with one yes/no box per intake question."""

    class IntakeForm(SafeForm):
        """The health questionnaire."""

        notes = TextAreaField(_l("Anything else we should know (medicines, allergies, conditions)?"),
                              validators=[Optional(), Length(max=2000)])
        confirm = BooleanField(_l("My answers are true and complete"),
                               validators=[DataRequired(message=_l("Please confirm your answers."))])
        next = HiddenField()

    for code, question in INTAKE_QUESTIONS.items():
        setattr(IntakeForm, f"q_{code}", BooleanField(question))
    return IntakeForm


class CallbackForm(SafeForm):
    """Ask the clinic to call."""

    note = TextAreaField(_l("What would you like to discuss?"), validators=[Optional(), Length(max=1000)])


class ResetRequestForm(SafeForm):
    """Ask for a password-reset link."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])


class ResetForm(SafeForm):
    """Choose a new password."""

    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=200,
                             message=_l("Use at least 8 characters."))])
    confirm = PasswordField(_l("Repeat the new password"), validators=[DataRequired(), EqualTo("password",
                            message=_l("The two passwords differ."))])
