"""The audit log and the outbox pages (reception and administrators)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from booking.services import audit_log
from booking.services.audit_log import AuditFilter
from booking.services.clinic import get_settings
from booking.services.errors import ServiceError
from booking.web.access import current_actor, roles_required
from booking.web.admin import bp
from booking.web.admin.forms import ROLE_NAMES, AuditFilterForm, ConfirmForm, OutboxFilterForm
from booking.web.refusals import refusal_page

LOG_READERS = ("admin", "receptionist")


@bp.route("/audit")
@roles_required(*LOG_READERS)
def audit():
    """Who changed what and why, filterable by patient, staff member, appointment and dates."""
    form = AuditFilterForm(request.args)
    form.actor.choices = [(0, _("anyone"))] + [(u.id, f"{u.name} ({ROLE_NAMES.get(u.role, u.role)})")
                                               for u in audit_log.staff_members()]
    if not form.validate():
        return _audit_page(form, audit_log.Page([], 1, False), 400)
    wanted = AuditFilter(patient=form.patient.data or "", actor_id=form.actor.data or None,
                         appointment_id=form.appointment.data, first_day=form.first_day.data,
                         last_day=form.last_day.data, action=form.action.data or "")
    refusal_page(lambda error: _audit_page(form, audit_log.Page([], 1, False), error.status, error), announce=False)
    page = audit_log.search_audit(current_actor(), wanted, page=request.args.get("page", 1, type=int))
    return _audit_page(form, page)


def _audit_page(form: AuditFilterForm, page: audit_log.Page, status: int = 200, error: ServiceError | None = None):
    """The audit log page, one sentence per event; a refused search is shown as an error of the date fields."""
    if error is not None:
        form.last_day.errors = [*form.last_day.errors, error.message]
    # The pager's links keep the filters (only the form's own fields: url_for reads "_scheme" and
    # friends from keyword arguments).
    args = {f.name: request.args[f.name] for f in form if request.args.get(f.name)}
    return render_template("admin/audit.html", form=form, page=page, entries=audit_log.describe_events(page.rows),
                           args=args, clinic=get_settings()), status


@bp.route("/outbox")
@roles_required(*LOG_READERS)
def outbox():
    """Queued, sent and failed mail, with the last error and a retry for failed ones."""
    form = OutboxFilterForm(request.args)
    status = form.status.data if form.validate() else ""
    page = audit_log.list_outbox(status or "", page=request.args.get("page", 1, type=int))
    return render_template("admin/outbox.html", form=form, page=page, counts=audit_log.outbox_counts(),
                           retry_form=ConfirmForm(), status=status, clinic=get_settings(),
                           kind_name=audit_log.kind_name)


@bp.route("/outbox/<int(max=2147483647):message_id>/retry", methods=["POST"])
@roles_required(*LOG_READERS)
def retry(message_id: int):
    """Queue a failed message again."""
    back = url_for("admin.outbox", status=request.args.get("status") or None)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(back)
    refusal_page(lambda error: redirect(back))
    if audit_log.retry_message(current_actor(), message_id):
        flash(_("Queued again; the sender will try it on its next run."), "info")
    else:
        flash(_("Only a failed message can be retried; this one is not failed (any more)."), "error")
    return redirect(back)
