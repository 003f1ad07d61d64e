"""Sign-in and sign-out views."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from booking.extensions import limiter, sign_in_limits
from booking.models import User
from booking.services import tokens
from booking.services.clinic import get_settings
from booking.services.errors import ServiceError
from booking.web.access import safe_next
from booking.web.auth import bp
from booking.web.auth.forms import LoginForm
from booking.web.refusals import refusal_page


def home_for(user: User) -> str:
    """Where a user lands after signing in: patients on their appointments, staff on the
    clinic calendar they work from."""
    return url_for("portal.me") if user.role == "patient" else url_for("reception.calendar")


@bp.route("/login", methods=["GET", "POST"])
@sign_in_limits(methods=["POST"])
def login():
    """Sign in with e-mail and password; then go back to where the user was heading."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), home_for(current_user)))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = tokens.authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(form.next.data, home_for(user)))
        form.password.errors.append(_("Wrong e-mail or password."))
    return render_template("auth/login.html", form=form, clinic=get_settings())


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST, with CSRF, so a link elsewhere cannot sign people out).

    The account's session version goes up, so this session's cookie (and any copy of it, or a
    remember cookie) no longer signs anyone in, on this device or another.
    """
    if current_user.is_authenticated:
        tokens.sign_out(current_user.id)
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("public.home"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    """Create a patient account, sign in, and continue where the patient was going."""
    from booking.services import patients
    from booking.web.book.forms import RegisterForm

    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), home_for(current_user)))
    form = RegisterForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        refusal_page(lambda error: _register_page(form, error), announce=False)
        user = patients.register_patient(name=form.name.data, email=form.email.data,
                                         phone=form.phone.data, password=form.password.data)
        # A taken e-mail (user is None) gets the same redirect as a new account; its owner is mailed.
        if user is not None:
            login_user(user)
        return redirect(safe_next(form.next.data, url_for("portal.me")))
    return _register_page(form)


def _register_page(form, error: ServiceError | None = None):
    """The registration form; a refusal is shown at the e-mail field."""
    if error is not None:
        form.email.errors.append(error.message)
    return render_template("auth/register.html", form=form, clinic=get_settings(),
                           login_url=url_for("auth.login", next=request.args.get("next", "")))


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
def reset_request():
    """Ask for a password-reset link by e-mail (through the outbox)."""
    from booking.services import patients
    from booking.web.book.forms import ResetRequestForm

    form = ResetRequestForm()
    if form.validate_on_submit():
        patients.queue_password_reset(form.email.data, secret_key=current_app.config["SECRET_KEY"],
                                      base_url=current_app.config["BASE_URL"])
        flash(_("If an account uses that e-mail, a reset link is on its way. It works for one hour."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form, clinic=get_settings())


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """Choose a new password from a reset link."""
    from booking.services import patients
    from booking.web.book.forms import ResetForm

    form = ResetForm()
    if form.validate_on_submit():
        # An expired, used or broken link: ask for a new one.
        refusal_page(lambda error: redirect(url_for("auth.reset_request")))
        patients.reset_password(token, form.password.data, secret_key=current_app.config["SECRET_KEY"])
        flash(_("Your password is changed. Sign in with the new one."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, clinic=get_settings())
