"""Re-planning after an absence (issue 15): the stranded appointments with their proposed times;
apply them all (with a reason), choose another proposed time per row, or offer them to the patients."""

from __future__ import annotations

from datetime import date, datetime

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import DateField, HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from booking.services import replanning
from booking.services.choices import practitioner_names
from booking.services.clinic import get_settings
from booking.services.errors import InvalidRequest
from booking.web.access import current_actor, roles_required
from booking.web.forms_base import SafeForm
from booking.web.reception import bp
from booking.web.reception.forms import plausible_year

FRONT_DESK = ("admin", "receptionist")
SKIP = "skip"


class FilterForm(SafeForm):
    """Which stranded appointments: one practitioner, dates (a GET form)."""

    class Meta:
        csrf = False

    practitioner = SelectField(_l("Practitioner"), choices=[], validate_choice=False, validators=[Optional()])
    first_day = DateField(_l("From"), validators=[Optional(), plausible_year])
    last_day = DateField(_l("To"), validators=[Optional(), plausible_year])


class ApplyForm(SafeForm):
    """Move every listed appointment to its chosen time, with the staff reason."""

    reason = StringField(_l("Reason (kept in the audit log)"), validators=[DataRequired(), Length(min=3, max=300)])
    practitioner = HiddenField()
    first_day = HiddenField()
    last_day = HiddenField()
    submit = SubmitField(_l("Apply all"))


class OfferForm(SafeForm):
    """Offer the proposals to the patients (each gets a signed link to up to three held times)."""

    practitioner = HiddenField()
    first_day = HiddenField()
    last_day = HiddenField()
    submit = SubmitField(_l("Offer to patients"))


def _filters(source) -> dict:
    """The filters from the query string or the posted hidden fields; bad values are ignored."""
    out: dict = {}
    try:
        out["practitioner_id"] = int(source.get("practitioner") or 0) or None
    except ValueError:
        out["practitioner_id"] = None
    for key in ("first_day", "last_day"):
        try:
            out[key] = date.fromisoformat(source.get(key) or "")
        except ValueError:
            out[key] = None
    if out["practitioner_id"] is not None and not 0 < out["practitioner_id"] < 2**31:
        out["practitioner_id"] = None
    return out


def _hidden(form, filters: dict):
    form.practitioner.data = str(filters["practitioner_id"] or "")
    form.first_day.data = filters["first_day"].isoformat() if filters["first_day"] else ""
    form.last_day.data = filters["last_day"].isoformat() if filters["last_day"] else ""
    return form


def slot_value(slot) -> str:
    """A proposed time as a form value: its UTC start and practitioner."""
    return f"{slot.start.isoformat()}@{slot.practitioner_id}"


def _page(filters: dict, *, apply_form=None, status: int = 200, message: str | None = None):
    actor = current_actor()
    names = practitioner_names()
    found = replanning.proposals(actor, **filters)
    form = FilterForm(request.args)
    form.practitioner.choices = [("", _("Everyone"))] + [(str(i), n) for i, n in sorted(names.items(), key=lambda x: x[1])]
    form.practitioner.data = str(filters["practitioner_id"] or "")
    return render_template(
        "reception/replan.html", clinic=get_settings(), proposals=found, names=names, filter_form=form,
        apply_form=_hidden(apply_form or ApplyForm(), filters), offer_form=_hidden(OfferForm(), filters),
        open_offers=replanning.open_offers_list(), returned=replanning.returned_offers(), slot_value=slot_value,
        skip=SKIP, message=message, filters=filters,
    ), status


@bp.route("/replan")
@roles_required(*FRONT_DESK)
def replan():
    """The stranded appointments and their proposals."""
    return _page(_filters(request.args))


def _posted_choices() -> list[replanning.Choice]:
    """The time chosen on each row (``choice-<appointment id>``); rows left alone are skipped."""
    out = []
    for key, value in request.form.items():
        if not key.startswith("choice-") or value == SKIP:
            continue
        try:
            appointment_id = int(key.removeprefix("choice-"))
            start_text, practitioner_text = value.rsplit("@", 1)
            start, practitioner_id = datetime.fromisoformat(start_text), int(practitioner_text)
        except ValueError as error:
            raise InvalidRequest(_("A chosen time was not understood; open the page again.")) from error
        if start.tzinfo is None or not (0 < appointment_id < 2**31 and 0 < practitioner_id < 2**31) \
                or not 2000 <= start.year <= 2100:
            raise InvalidRequest(_("A chosen time was not understood; open the page again."))
        out.append(replanning.Choice(appointment_id, start, practitioner_id))
    return out


@bp.route("/replan/apply", methods=["POST"])
@roles_required(*FRONT_DESK)
def replan_apply():
    """Move every chosen appointment in one transaction, or none."""
    filters = _filters(request.form)
    form = ApplyForm()
    if not form.validate_on_submit():
        return _page(filters, apply_form=form, status=400, message=_("Give a reason to apply the proposals."))
    try:
        chosen = _posted_choices()
        if not chosen:
            raise InvalidRequest(_("Nothing was chosen to move."))
        moved = replanning.apply_all(current_actor(), chosen, form.reason.data)
    except (InvalidRequest, replanning.ReplanFailed) as error:
        return _page(filters, apply_form=form, status=error.status, message=error.message)
    flash(_("Moved %(num)d appointment(s); each patient gets an updated invite.", num=len(moved)), "info")
    return redirect(url_for("reception.replan", practitioner=filters["practitioner_id"],
                            first_day=filters["first_day"], last_day=filters["last_day"]))


@bp.route("/replan/offer", methods=["POST"])
@roles_required(*FRONT_DESK)
def replan_offer():
    """Offer every proposal to its patient."""
    filters = _filters(request.form)
    form = OfferForm()
    if not form.validate_on_submit():
        return _page(filters, status=400, message=_("The form expired; try again."))
    made, skipped = replanning.offer_all(current_actor(), **filters)
    flash(_("Offered %(num)d appointment(s) to the patients; %(skipped)d not offered (no time, or an offer is open "
            "already).", num=len(made), skipped=len(skipped)) if skipped
          else _("Offered %(num)d appointment(s) to the patients.", num=len(made)), "info")
    return redirect(url_for("reception.replan", practitioner=filters["practitioner_id"],
                            first_day=filters["first_day"], last_day=filters["last_day"]))
