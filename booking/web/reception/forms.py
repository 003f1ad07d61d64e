"""Forms of the reception pages (shape only: required, ranges, choices; the rules are the services')."""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from booking.web.forms_base import SafeForm

MAX_ID = 2_147_483_647  # the database's integer range; ids in URLs use int(max=2147483647) too
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
STATUS_ACTIONS = ("check_in", "complete", "no_show")


def plausible_year(form, field) -> None:
    """Refuse dates outside 2000-2100 (a typo, not a booking)."""
    if field.data is not None and not 2000 <= field.data.year <= 2100:
        raise ValidationError(gettext("Give a date between the years 2000 and 2100."))


class PatientSearchForm(SafeForm):
    """Find a patient by name, e-mail or phone (a GET form: no token needed)."""

    class Meta:
        csrf = False

    q = StringField(_l("Name, e-mail or phone"), validators=[Optional(), Length(max=100)])


class NewPatientForm(SafeForm):
    """A patient who phoned in: contact details only, no password."""

    name = StringField(_l("Full name"), validators=[DataRequired(), Length(min=2, max=120)])
    email = EmailField(_l("E-mail"),
                       validators=[Optional(), Email(), Length(max=254)])
    phone = TelField(_l("Phone"), validators=[DataRequired(), Length(min=6, max=40),
                                          Regexp(r"^[0-9 +()./-]+$", message=_l("Use digits, spaces and + - ( ) only."))])
    start = HiddenField()
    practitioner = HiddenField()


class SessionForm(Form):
    """One session of a series: when and with whom."""

    start = DateTimeLocalField(_l("Start"), format=LOCAL_FORMATS, validators=[InputRequired(), plausible_year])
    practitioner = SelectField(_l("Practitioner"), coerce=int, validators=[InputRequired()])


class BookingForm(SafeForm):
    """Book one appointment or a whole series for a patient."""

    patient_id = HiddenField(validators=[DataRequired(message=_l("Choose the patient first.")),
                                         Regexp(r"^[0-9]{1,9}$", message=_l("Choose the patient first."))])
    treatment = SelectField(_l("Treatment"), validators=[DataRequired()])
    mode = RadioField(_l("What to book"), choices=[SelectChoice("single", _l("One appointment")),
                                               SelectChoice("series", _l("The whole series"))],
                      default="single", validators=[InputRequired()])
    start = DateTimeLocalField(_l("Start (clinic time)"), format=LOCAL_FORMATS,
                               validators=[InputRequired(message=_l("Give the start date and time.")), plausible_year])
    practitioner = SelectField(_l("Practitioner"), coerce=int, validators=[InputRequired()])
    sessions = FieldList(FormField(SessionForm), min_entries=0, max_entries=30)
    override_reason = TextAreaField(_l("Override reason"), validators=[Optional(), Length(max=500)])
    any_practitioner = BooleanField(_l("Next free time with any practitioner"))
    plan = SubmitField(_l("Plan the series"))
    book = SubmitField(_l("Book"))
    next_free = SubmitField(_l("Next free time"))


class MoveForm(SafeForm):
    """A drag on the calendar (JSON): the new wall-clock start, practitioner, and an override reason."""

    start = StringField(validators=[DataRequired(), Length(max=40)])
    practitioner_id = IntegerField(validators=[Optional(), NumberRange(1, MAX_ID)])
    override_reason = StringField(validators=[Optional(), Length(max=500)])
    replan_following = BooleanField()


class PanelMoveForm(SafeForm):
    """Move from the panel (the keyboard's way to do what a drag does)."""

    start = DateTimeLocalField(_l("New start (clinic time)"), format=LOCAL_FORMATS,
                               validators=[InputRequired(message=_l("Give the new date and time.")), plausible_year])
    practitioner = SelectField(_l("Practitioner"), coerce=int, validators=[InputRequired()])
    override_reason = TextAreaField(_l("Override reason (only if the rules refuse)"), validators=[Optional(), Length(max=500)])
    replan_following = BooleanField(_l("Re-plan the later sessions of the series from here"))


class StatusForm(SafeForm):
    """Check-in, complete or no-show."""

    action = HiddenField(validators=[AnyOf(STATUS_ACTIONS, message=_l("Unknown action."))])


class CancelForm(SafeForm):
    """Cancel with an internal reason (it also overrides the patients' cut-off) and an optional
    message to the patient."""

    reason = TextAreaField(_l("Reason"), validators=[DataRequired(message=_l("Say why it is cancelled.")), Length(max=500)])
    patient_message = TextAreaField(_l("Message to the patient"), validators=[Optional(), Length(max=500)])
    rest_of_series = BooleanField(_l("Also cancel every later session of the series"))


class ConfirmForm(SafeForm):
    """A button that needs only the CSRF token."""


class DayForm(SafeForm):
    """Which day (a GET form)."""

    class Meta:
        csrf = False

    date = DateField(_l("Day"), validators=[Optional(), plausible_year])


class ClearanceForm(SafeForm):
    """A practitioner clears a patient for one treatment, with the reason."""

    treatment_id = IntegerField(_l("Treatment"), validators=[DataRequired(), NumberRange(min=1, max=2147483647)])
    note = TextAreaField(_l("Why is it safe?"), validators=[DataRequired(message=_l("Say why the patient is cleared.")),
                                                       Length(max=500)])
