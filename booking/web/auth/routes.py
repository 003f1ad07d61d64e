"""Sign-in and sign-out views."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from booking.extensions import db, limiter
from booking.models import User
from booking.services.clinic import get_settings
from booking.web.access import safe_next
from booking.web.auth import bp
from booking.web.auth.forms import LoginForm


def home_for(user: User) -> str:
    """Where a user lands after signing in."""
    return url_for("portal.me") if user.role == "patient" else url_for("portal.calendar_feeds")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def login():
    """Sign in with e-mail and password; then go back to where the user was heading."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), home_for(current_user)))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.email == form.email.data.strip().lower()))
        if user is not None and user.active and user.check_password(form.password.data):
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(form.next.data, home_for(user)))
        form.password.errors.append("Wrong e-mail or password.")
    return render_template("auth/login.html", form=form, clinic=get_settings())


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST, with CSRF, so a link elsewhere cannot sign people out)."""
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("public.home"))
