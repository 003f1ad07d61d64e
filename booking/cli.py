"""``flask`` commands: seed-demo, users and outbox."""

from __future__ import annotations

import time

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from booking.extensions import db
from booking.mail.sender import send_due, transport_from_config
from booking.models import ROLES, OutboxMessage, User
from booking.models.outbox import OUTBOX_STATUSES


def register(app: Flask) -> None:
    """Attach the commands to ``app``."""
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(users)
    app.cli.add_command(outbox)
    app.cli.add_command(reminders)
    app.cli.add_command(course)
    app.cli.add_command(waitlist)


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


@click.group()
def course() -> None:
    """The course after booking: prep confirmations and maintenance recalls."""


@course.command("run")
def run_course_timers() -> None:
    """Ask for the prep confirmations and send the recall messages that are due (each exactly
    once; safe from cron on several servers); `flask outbox send` mails them."""
    from booking.services.course import run_timers

    click.echo(run_timers())


@click.group()
def waitlist() -> None:
    """Holds, offers and the waitlist."""


@waitlist.command("run")
def run_waitlist_timers() -> None:
    """Close the offers and remove the holds that have run out (each offer's time goes back, a
    waitlist offer passes to the next request), then offer waiting requests the times the rule
    book allows them (oldest request first); safe on several servers."""
    from booking.services import waitlist
    from booking.services.holds import expire_holds
    from booking.services.offers import expire_offers

    closed = expire_offers()
    click.echo(f"closed {closed} expired offer(s); removed {expire_holds()} expired hold(s)")
    made, lapsed = waitlist.run()
    click.echo(f"made {made} waitlist offer(s); closed {lapsed} request(s) past their latest date")


@click.group()
def outbox() -> None:
    """Send and inspect queued mail."""


@outbox.command("send")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="Most messages to send per run.")
@click.option("--loop", is_flag=True, help="Keep running, one run every --interval seconds, until stopped.")
@click.option("--interval", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between runs with --loop.")
def send_outbox(limit: int, loop: bool, interval: float) -> None:
    """Send the mail that is due (SMTP_HOST, or .eml files in MAIL_DIR when it is empty).

    Safe to run from cron or a timer on several servers at once.
    """
    transport = transport_from_config(current_app.config)
    mail_from, max_attempts = current_app.config["MAIL_FROM"], current_app.config["OUTBOX_MAX_ATTEMPTS"]
    try:
        while True:
            report = send_due(transport, mail_from=mail_from, limit=limit, max_attempts=max_attempts)
            click.echo(str(report))
            if not loop:
                return
            # A full batch means more may be waiting: go again at once.
            if report.sent + report.retried + report.failed < limit:
                time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("Stopped.")


@outbox.command("list")
@click.option("--status", type=click.Choice(OUTBOX_STATUSES), help="Only messages in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="Most messages to show, newest first.")
def list_outbox(status: str | None, limit: int) -> None:
    """Show outbox messages, newest first, with their delivery state."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    messages = db.session.scalars(query).all()
    if not messages:
        click.echo("No messages.")
        return
    click.echo(f"{'id':>6}  {'status':<7}  {'tries':>5}  {'next try (UTC)':<16}  {'kind':<22}  to")
    for m in messages:
        click.echo(f"{m.id:>6}  {m.status:<7}  {m.attempts:>5}  {m.next_attempt_at:%Y-%m-%d %H:%M}  "
                   f"{m.kind:<22}  {m.to_addr}  {m.subject}")
        if m.last_error:
            click.echo(f"{'':>8}last error: {m.last_error}")
