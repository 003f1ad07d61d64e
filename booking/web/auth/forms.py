"""Forms of the auth pages (shape only; policy lives in services)."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from booking.web.forms_base import SafeForm


class LoginForm(SafeForm):
    """E-mail and password."""

    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()
