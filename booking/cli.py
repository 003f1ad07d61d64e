"""``flask`` commands: seed-demo and users."""

from __future__ import annotations

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import ROLES, User


def register(app: Flask) -> None:
    """Attach the commands to ``app``."""
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(users)
    app.cli.add_command(reminders)


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when data already exists.")
def seed_demo_command(if_empty: bool) -> None:
    """Create a demo clinic in Europe/Rome. Refuses a non-empty database and production."""
    from booking.demo import database_is_empty, demo_logins, seed_demo

    if current_app.config.get("BOOKING_ENV") == "production":
        raise click.ClickException("seed-demo refuses to run in production.")
    if not database_is_empty():
        if if_empty:
            click.echo("The database already has data; demo not seeded.")
            return
        raise click.ClickException("The database is not empty; seed-demo only fills an empty one.")
    counts = seed_demo()
    click.echo("Demo clinic created: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    print_logins(demo_logins())


def print_logins(logins: list[tuple[str, str, str]]) -> None:
    """Print the demo logins as a small table."""
    click.echo("Demo logins (password for all: %s):" % logins[0][2])
    for role, email, _ in logins:
        click.echo(f"  {role:<13} {email}")


@click.group()
def users() -> None:
    """Manage user accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", default=None, help="Display name (defaults to the e-mail's local part).")
def create_user(email: str, password: str, role: str, name: str | None) -> None:
    """Create a user who can sign in."""
    email = email.strip().lower()
    if "@" not in email:
        raise click.BadParameter("an e-mail address needs an @", param_hint="--email")
    if len(password) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="--password")
    exists = db.session.scalar(select(func.count()).select_from(User).where(User.email == email))
    if exists:
        raise click.ClickException(f"A user with e-mail {email} already exists.")
    user = User(email=email, name=name or email.split("@")[0], role=role)
    user.set_password(password)
    if role == "practitioner":
        from booking.models import Practitioner

        db.session.add(Practitioner(user=user))
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created {role} {email} (id {user.id}).")


@click.group()
def reminders() -> None:
    """Appointment and prep-step reminders."""


@reminders.command("send")
def send_reminders() -> None:
    """Queue the reminders that are due (each exactly once); `flask outbox send` mails them."""
    from booking.services.reminders import queue_due_reminders

    report = queue_due_reminders()
    click.echo(f"queued {report.appointment} appointment reminder(s), {report.prep} prep reminder(s)")
