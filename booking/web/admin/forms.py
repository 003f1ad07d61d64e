"""Forms of the administration pages (shape only; the services hold the rules)."""

from __future__ import annotations

import re
from decimal import Decimal
from datetime import time
from zoneinfo import available_timezones

from flask_babel import gettext as _
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from booking.i18n import LANGUAGE_NAMES, translate
from booking.models import INTAKE_QUESTIONS, ROLES
from booking.models.catalog import BODY_AREAS, TREATMENT_KINDS
from booking.models.outbox import OUTBOX_STATUSES
from booking.scheduling.model import WEEKDAYS
from booking.scheduling.text import area_label
from booking.services.clinic import get_settings
from booking.services.course import MESSAGE_KINDS
from booking.services.errors import InvalidRequest
from booking.services.holidays import check_place
from booking.web.forms_base import SafeForm
from booking.web.reception.forms import LOCAL_FORMATS, MAX_ID, plausible_year

DAY_NAMES = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
             _l("Sunday"))
# What the pages show for the stored codes (the codes stay the values posted and stored).
KIND_NAMES = {"consultation": _l("consultation"), "treatment": _l("treatment")}
ROLE_NAMES = {"admin": _l("admin"), "receptionist": _l("receptionist"), "practitioner": _l("practitioner"),
              "patient": _l("patient")}
STATUS_NAMES = {"queued": _l("queued"), "sending": _l("sending"), "sent": _l("sent"), "failed": _l("failed")}
COLOUR = Regexp(r"^#[0-9a-fA-F]{6}$", message=_l("Use a colour like #2f6f6a."))
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def parse_periods(text: str) -> list[tuple[time, time]]:
    """"09:00-13:00, 14:00-18:00" -> [(09:00, 13:00), (14:00, 18:00)]; ValueError with a message."""
    periods = []
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        match = _PERIOD.match(part)
        if not match:
            raise ValueError(_("“%(part)s” is not a period; write it like 09:00-13:00.", part=part))
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(_("“%(part)s” is not a time of day.", part=part))
        start, end = time(h1, m1), time(h2, m2)
        if end <= start:
            raise ValueError(_("“%(part)s” ends before it starts.", part=part))
        periods.append((start, end))
    periods.sort()
    for (_first, end), (start, _last) in zip(periods, periods[1:]):
        if start < end:
            raise ValueError(_("Two periods overlap; join them into one."))
    return periods


def _periods_valid(form, field) -> None:
    """A field of comma-separated periods."""
    try:
        parse_periods(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def weekly_hours_form_class():
    """A form with the hours and the breaks of each weekday."""

    class WeeklyHoursForm(SafeForm):
        """Weekly working hours and breaks (empty hours = not working that day)."""

    for number, name in enumerate(DAY_NAMES):
        setattr(WeeklyHoursForm, f"hours_{number}",
                StringField(_l("%(day)s hours", day=name), validators=[Optional(), Length(max=100), _periods_valid]))
        setattr(WeeklyHoursForm, f"breaks_{number}",
                StringField(_l("%(day)s breaks", day=name), validators=[Optional(), Length(max=100), _periods_valid]))
    return WeeklyHoursForm


def weekly_values(form) -> tuple[dict[int, list], dict[int, list]]:
    """The parsed hours and breaks of a valid weekly form, by weekday."""
    hours = {d: parse_periods(getattr(form, f"hours_{d}").data) for d in range(len(WEEKDAYS))}
    breaks = {d: parse_periods(getattr(form, f"breaks_{d}").data) for d in range(len(WEEKDAYS))}
    return hours, breaks


class PractitionerForm(SafeForm):
    """A practitioner's colour, whether they take bookings, and what they give."""

    color = StringField(_l("Calendar colour"), validators=[DataRequired(), COLOUR])
    active = BooleanField(_l("Takes bookings"))
    treatments = MultiCheckboxField(_l("Treatments given"), coerce=int)


class ExceptionForm(SafeForm):
    """Other hours on one date, or a day off (no times)."""

    day = DateField(_l("Date"), validators=[InputRequired(message=_l("Give the date.")), plausible_year])
    start = TimeField(_l("From"), validators=[Optional()])
    end = TimeField(_l("Until"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])

    def validate(self, extra_validators=None) -> bool:
        """Both times or neither (an empty time skips its own validators); the end after the start."""
        valid = super().validate(extra_validators)
        if (self.start.data is None) != (self.end.data is None):
            self.end.errors = [*self.end.errors, _("Give both times, or neither for a day off.")]
            return False
        if self.end.data is not None and self.end.data <= self.start.data:
            self.end.errors = [*self.end.errors, _("The end must be after the start.")]
            return False
        return valid


class SpanForm(SafeForm):
    """A span of time (time off, a closure), in clinic time."""

    start = DateTimeLocalField(_l("From"), format=LOCAL_FORMATS,
                               validators=[InputRequired(message=_l("Give the start.")), plausible_year])
    end = DateTimeLocalField(_l("Until"), format=LOCAL_FORMATS,
                             validators=[InputRequired(message=_l("Give the end.")), plausible_year])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])

    def validate_end(self, field) -> None:
        """The end after the start."""
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError(_("The end must be after the start."))


class RoomForm(SafeForm):
    """A room and what it serves."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    active = BooleanField(_l("In use"), default=True)
    treatments = MultiCheckboxField(_l("Treatments it serves"), coerce=int)


class PriceField(DecimalField):
    """A price: shown back as typed after an error ("1e9999" or "sNaN" cannot be re-formatted)."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else f"{self.data:.2f}"


class TreatmentForm(SafeForm):
    """A treatment and its protocol."""

    slug = StringField(_l("Slug (in links)"), validators=[DataRequired(), Length(max=80), Regexp(
        r"^[a-z0-9]+(-[a-z0-9]+)*$", message=_l("Use lower-case letters, digits and single dashes."))])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, KIND_NAMES.get(k, k)) for k in TREATMENT_KINDS])
    body_area = SelectField(_l("Body area"), choices=[SelectChoice("", _l("none"))]
                            + [SelectChoice(a, LazyString(translate, area_label(a))) for a in BODY_AREAS])
    duration_minutes = IntegerField(_l("Duration (minutes)"), validators=[InputRequired(), NumberRange(5, 600)])
    price = PriceField(_l("Price per session"), validators=[Optional()])
    buffer_before_minutes = IntegerField(_l("Buffer before (minutes)"), default=0,
                                         validators=[InputRequired(), NumberRange(0, 240)])
    buffer_after_minutes = IntegerField(_l("Buffer after (minutes)"), default=0,
                                        validators=[InputRequired(), NumberRange(0, 240)])
    needs_room = BooleanField(_l("Needs a room"), default=True)
    color = StringField(_l("Calendar colour"), default="#4a7fb5", validators=[DataRequired(), COLOUR])
    active = BooleanField(_l("Bookable"), default=True)
    sessions = IntegerField(_l("Sessions in the series"), default=1, validators=[InputRequired(), NumberRange(1, 30)])
    interval_min_days = IntegerField(_l("Interval: minimum days"), validators=[Optional(), NumberRange(1, 365)])
    interval_target_days = IntegerField(_l("Interval: target days"), validators=[Optional(), NumberRange(1, 365)])
    interval_max_days = IntegerField(_l("Interval: maximum days"), validators=[Optional(), NumberRange(1, 365)])
    consultation_treatment_id = SelectField(_l("Consultation required first"), coerce=int, choices=[])
    consultation_min_days_before = IntegerField(_l("Days between consultation and first session"), default=0,
                                                validators=[InputRequired(), NumberRange(0, 365)])
    consultation_valid_days = IntegerField(_l("Consultation valid for (days)"), default=180,
                                           validators=[InputRequired(), NumberRange(1, 3650)])
    aftercare_hours = IntegerField(_l("Aftercare (hours)"), default=0,
                                   validators=[InputRequired(), NumberRange(0, 720)])
    maintenance_interval_days = IntegerField(_l("Maintenance interval (days)"),
                                             validators=[Optional(), NumberRange(1, 3650)])
    contraindications = MultiCheckboxField(
        _l("Contraindicated by"), choices=[SelectChoice(k, v) for k, v in INTAKE_QUESTIONS.items()])
    prep_confirm_hours = IntegerField(_l("Ask the patient to confirm their prep (hours before)"),
                                      validators=[Optional(), NumberRange(1, 24 * 14)])
    prep_answer_by_hours = IntegerField(_l("Reception calls when no answer by (hours before)"), default=24,
                                        validators=[Optional(), NumberRange(0, 24 * 14)])

    def validate_price(self, field) -> None:
        """From 0 up to 99999.99, with at most two decimals (cents); "NaN" and "Infinity" are no prices."""
        if field.data is None:
            return
        if not field.data.is_finite() or not Decimal("0") <= field.data < Decimal("100000"):
            raise ValidationError(_("Give a price from 0 up to 99999.99, or leave it empty."))
        if field.data != field.data.quantize(Decimal("0.01")):
            raise ValidationError(_("Use at most two decimals, e.g. 60.50."))

    @property
    def price_cents(self) -> int | None:
        """The price in cents, or None ("price on request")."""
        return None if self.price.data is None else int(self.price.data * 100)


class AftercareRuleForm(SafeForm):
    """An aftercare step."""

    instruction = StringField(_l("What to avoid"), validators=[DataRequired(), Length(max=200)])
    hours = IntegerField(_l("For how many hours after the session"),
                         validators=[InputRequired(), NumberRange(1, 24 * 60)])


class PrepRuleForm(SafeForm):
    """A prep step."""

    instruction = StringField(_l("Instruction"), validators=[DataRequired(), Length(max=200)])
    lead_hours = IntegerField(_l("Hours before the session"), validators=[InputRequired(), NumberRange(0, 24 * 90)])
    remind = BooleanField(_l("Send a reminder"), default=True)


def _upper(value: str | None) -> str | None:
    """Codes are upper case (it, eur -> IT, EUR)."""
    return value.strip().upper() if isinstance(value, str) else value


class SettingsForm(SafeForm):
    """The clinic's settings."""

    name = StringField(_l("Clinic name"), validators=[DataRequired(), Length(max=200)])
    timezone = SelectField(_l("Time zone"), choices=[SelectChoice(z) for z in sorted(available_timezones())])
    phone = TelField(_l("Phone"), validators=[Optional(), Length(max=40)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Email(), Length(max=254)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)])
    horizon_days = IntegerField(_l("Booking horizon (days)"), validators=[InputRequired(), NumberRange(1, 730)])
    min_notice_hours = IntegerField(_l("Minimum notice (hours)"), validators=[InputRequired(), NumberRange(0, 720)])
    cancel_cutoff_hours = IntegerField(_l("Patients' change and cancel cut-off (hours)"),
                                       validators=[InputRequired(), NumberRange(0, 720)])
    slot_step_minutes = SelectField(_l("Slot step (minutes)"), coerce=int,
                                    choices=[SelectChoice(str(m)) for m in (5, 10, 15, 20, 30, 60)])
    reminder_hours = IntegerField(_l("Reminder (hours before)"), validators=[InputRequired(), NumberRange(0, 720)])
    show_treatment_in_invites = BooleanField(_l("Name the treatment in invites (off: “Appointment at …”)"))
    primary_color = StringField(_l("Brand colour"), validators=[DataRequired(), COLOUR])
    # --- where the clinic is (public holidays) and its currency -------------------------------
    # A field left out of a post keeps the clinic's current value (a browser always sends it).
    country = StringField(_l("Country (ISO code, for public holidays)"), default=lambda: get_settings().country,
                          filters=[_upper], validators=[DataRequired(message=_l("Give a country code such as IT.")),
                                                        Length(max=2)])
    region = StringField(_l("Region or province (optional, for its own holidays)"),
                         default=lambda: get_settings().region, validators=[Optional(), Length(max=10)])
    currency = StringField(_l("Currency (ISO code, for prices)"), default=lambda: get_settings().currency,
                           filters=[_upper],
                           validators=[DataRequired(message=_l("Give a currency code such as EUR.")),
                                       Regexp(r"^[A-Z]{3}$", message=_l("Use three letters, such as EUR."))])
    # The language of visitors whose browser asks for none the app speaks (issue 16).
    default_locale = SelectField(_l("Default language"), default=lambda: get_settings().default_locale,
                                 choices=[SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()])

    def validate_country(self, field) -> None:
        """A country the public-holiday calendar knows (the service's own check)."""
        try:
            check_place(field.data)
        except InvalidRequest as error:
            raise ValidationError(error.message) from None

    def validate_region(self, field) -> None:
        """A region of that country, when one is given (skipped while the country is wrong)."""
        if not field.data or self.country.errors:
            return
        try:
            check_place(self.country.data, field.data)
        except InvalidRequest as error:
            raise ValidationError(error.message) from None


    # --- the course messages (issue 14): each kind can be turned off ------------------------
    messages_sent = SelectMultipleField(_l("Messages to patients"), choices=[SelectChoice(k, v) for k, v in MESSAGE_KINDS.items()],
                                        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    messages_shown = HiddenField()  # "1" from the page; without it (an older form) the switches keep their values

    def messages_off_for(self, current: list[str]) -> list[str]:
        """The message kinds to turn off: those not ticked, or the current ones when the
        switches were not part of the post."""
        if self.messages_shown.data != "1":
            return list(current or [])
        return [k for k in MESSAGE_KINDS if k not in (self.messages_sent.data or [])]


class HolidaysForm(SafeForm):
    """Add a year's public holidays as closures (the year: this one or the next)."""

    year = SelectField(_l("Year"), coerce=int, choices=[])


class UserForm(SafeForm):
    """An account and its role."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(min=2, max=120)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    phone = TelField(_l("Phone"), validators=[Optional(), Length(max=40)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, ROLE_NAMES.get(r, r)) for r in ROLES])
    active = BooleanField(_l("Can sign in"), default=True)
    password = PasswordField(_l("Password (leave empty to keep it)"),
                             validators=[Optional(), Length(min=8, max=200, message=_l("Use at least 8 characters."))])


class ConfirmForm(SafeForm):
    """A button that needs only the CSRF token."""


class AuditFilterForm(SafeForm):
    """Narrow the audit log (a GET form)."""

    class Meta:
        csrf = False

    patient = StringField(_l("Patient (name, e-mail or id)"), validators=[Optional(), Length(max=100)])
    actor = SelectField(_l("Staff member"), coerce=int, choices=[], validators=[Optional()])
    appointment = IntegerField(_l("Appointment id"), validators=[Optional(), NumberRange(1, MAX_ID)])
    first_day = DateField(_l("From"), validators=[Optional(), plausible_year])
    last_day = DateField(_l("Until"), validators=[Optional(), plausible_year])
    action = StringField(_l("Action contains"), validators=[Optional(), Length(max=60)])


class OutboxFilterForm(SafeForm):
    """Narrow the outbox (a GET form)."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=[SelectChoice("", _l("all"))]
                         + [SelectChoice(s, STATUS_NAMES.get(s, s)) for s in OUTBOX_STATUSES],
                         validators=[Optional()])
