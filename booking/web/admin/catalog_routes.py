"""Administration views: the overview with patients' erasure requests, the catalogue (treatments,
protocols, prep rules), the clinic's settings, and users with their roles."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import select

from booking.extensions import db
from booking.models import Treatment, User
from booking.services import audit_log, catalog_admin, clinic_admin, schedule_admin
from booking.services.catalog_admin import PROTOCOL_FIELDS, TREATMENT_FIELDS
from booking.services.clinic import get_settings
from booking.services.clinic_admin import SETTINGS_FIELDS, USER_FIELDS
from booking.services.course import MESSAGE_KINDS
from booking.web.access import current_actor, roles_required
from booking.web.admin import bp
from booking.services.translated import CLINIC_TEXTS, other_languages, save_clinic_texts
from booking.web.admin.forms import AftercareRuleForm, ConfirmForm, PrepRuleForm, SettingsForm, TreatmentForm, UserForm
from booking.web.admin.translation_forms import clinic_texts_form, step_form_class, treatment_form_class
from booking.web.refusals import refusal_page


# --- overview and erasure requests --------------------------------------------------------
@bp.route("")
@roles_required("admin")
def index():
    """The administration home: sections, erasure requests, bookings outside the schedule."""
    failed_count, failed = audit_log.failed_messages()
    return render_template("admin/index.html", clinic=get_settings(), erasures=clinic_admin.erasure_requests(),
                           stranded=schedule_admin.stranded(), form=ConfirmForm(),
                           failed_count=failed_count, failed=failed, kind_name=audit_log.kind_name)


@bp.route("/patients/<int(max=2147483647):patient_id>/erase", methods=["POST"])
@roles_required("admin")
def erase(patient_id: int):
    """Confirm a patient's erasure request."""
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("admin.index"))
    clinic_admin.confirm_erasure(current_actor(), patient_id)
    flash(_("The patient's personal data is erased; their appointments stay as “Erased patient”."), "info")
    return redirect(url_for("admin.index"))


# --- treatments ---------------------------------------------------------------------------
@bp.route("/treatments")
@roles_required("admin")
def treatments():
    """Every treatment."""
    rows = db.session.scalars(select(Treatment).order_by(Treatment.name)).all()
    return render_template("admin/treatments.html", treatments=rows, clinic=get_settings())


def _treatment_form(row: Treatment | None, formdata=None) -> TreatmentForm:
    """The treatment form, from the row (with its protocol) or the submitted data; with the
    texts in the languages besides the clinic's default."""
    form_class = treatment_form_class(other_languages(), row)
    if formdata is None and row is not None:
        values = {name: getattr(row, name) for name in TREATMENT_FIELDS}
        # The texts as written in the default language, not as read in the admin's language.
        values |= {name: row.default_text(name) for name in row.TRANSLATED_FIELDS}
        values["body_area"] = row.body_area or ""
        values["price"] = None if row.price_cents is None else Decimal(row.price_cents) / 100
        if row.protocol is not None:
            values |= {name: getattr(row.protocol, name) for name in PROTOCOL_FIELDS}
            values["consultation_treatment_id"] = row.protocol.consultation_treatment_id or 0
        form = form_class(formdata=None, data=values)
        form.fill(row, [*row.protocol.prep_rules, *row.protocol.aftercare_rules] if row.protocol else [])
    else:
        form = form_class(formdata=formdata)
    consultations = db.session.scalars(select(Treatment).where(Treatment.kind == "consultation")
                                       .order_by(Treatment.name))
    form.consultation_treatment_id.choices = [(0, _("none"))] + [(t.id, t.name) for t in consultations
                                                              if row is None or t.id != row.id]
    return form


def _treatment_page(row: Treatment | None, form: TreatmentForm, status: int = 200, prep: PrepRuleForm | None = None,
                    aftercare: AftercareRuleForm | None = None):
    """The treatment's page: its form and (for a saved one) its prep and aftercare steps."""
    languages = other_languages()
    prep = prep or step_form_class(PrepRuleForm, languages)(formdata=None)
    aftercare = aftercare or step_form_class(AftercareRuleForm, languages)(formdata=None)
    return render_template("admin/treatment.html", treatment=row, form=form, prep=prep, aftercare=aftercare,
                           delete_form=ConfirmForm(), clinic=get_settings()), status


def _save_treatment(row: Treatment | None):
    """Validate and save the submitted treatment form."""
    form = _treatment_form(row, request.form)
    if not form.validate_on_submit():
        return _treatment_page(row, form, 400)
    data = form.data
    values = {name: data[name] for name in TREATMENT_FIELDS}
    values["body_area"] = values["body_area"] or None
    values["price_cents"] = form.price_cents
    values["description"] = (values["description"] or "").strip()
    protocol = {name: data[name] for name in PROTOCOL_FIELDS}
    protocol["consultation_treatment_id"] = protocol["consultation_treatment_id"] or None
    protocol["contraindications"] = list(protocol["contraindications"] or [])
    if protocol["prep_answer_by_hours"] is None:
        protocol["prep_answer_by_hours"] = 24
    refusal_page(lambda error: _treatment_page(db.session.get(Treatment, row.id) if row else None, form,
                                               error.status))
    saved = catalog_admin.save_treatment(current_actor(), row.id if row else None, treatment=values,
                                         protocol=protocol, translations=form.translations(),
                                         step_translations=form.step_translations())
    flash(_("%(name)s saved.", name=saved.name), "info")
    return redirect(url_for("admin.treatment", treatment_id=saved.id))


@bp.route("/treatments/new", methods=["GET", "POST"])
@roles_required("admin")
def new_treatment():
    """Add a treatment."""
    if request.method == "POST":
        return _save_treatment(None)
    return _treatment_page(None, _treatment_form(None))


@bp.route("/treatments/<int(max=2147483647):treatment_id>", methods=["GET", "POST"])
@roles_required("admin")
def treatment(treatment_id: int):
    """A treatment, its protocol and its prep rules."""
    row = db.session.get(Treatment, treatment_id)
    if row is None:
        abort(404, description=_("There is no such treatment."))
    if request.method == "POST":
        return _save_treatment(row)
    return _treatment_page(row, _treatment_form(row))


@bp.route("/treatments/<int(max=2147483647):treatment_id>/prep", methods=["POST"])
@roles_required("admin")
def add_prep(treatment_id: int):
    """Add a prep step."""
    row = db.session.get(Treatment, treatment_id)
    if row is None:
        abort(404, description=_("There is no such treatment."))
    prep = step_form_class(PrepRuleForm, other_languages())()
    if not prep.validate_on_submit():
        return _treatment_page(row, _treatment_form(row), 400, prep=prep)
    refusal_page(lambda error: _treatment_page(row, _treatment_form(row), error.status, prep=prep))
    catalog_admin.add_prep_rule(current_actor(), treatment_id, instruction=prep.instruction.data,
                                lead_hours=prep.lead_hours.data, remind=prep.remind.data,
                                translations=prep.instruction_translations())
    flash(_("Prep step added."), "info")
    return redirect(url_for("admin.treatment", treatment_id=treatment_id))


@bp.route("/prep/<int(max=2147483647):rule_id>/delete", methods=["POST"])
@roles_required("admin")
def delete_prep(rule_id: int):
    """Remove a prep step."""
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("admin.treatments"))
    refusal_page(lambda error: redirect(url_for("admin.treatments")))
    treatment_id = catalog_admin.remove_prep_rule(current_actor(), rule_id)
    flash(_("Prep step removed."), "info")
    return redirect(url_for("admin.treatment", treatment_id=treatment_id))


@bp.route("/treatments/<int(max=2147483647):treatment_id>/aftercare", methods=["POST"])
@roles_required("admin")
def add_aftercare(treatment_id: int):
    """Add an aftercare step."""
    row = db.session.get(Treatment, treatment_id)
    if row is None:
        abort(404, description=_("There is no such treatment."))
    aftercare = step_form_class(AftercareRuleForm, other_languages())()
    if not aftercare.validate_on_submit():
        return _treatment_page(row, _treatment_form(row), 400, aftercare=aftercare)
    refusal_page(lambda error: _treatment_page(row, _treatment_form(row), error.status, aftercare=aftercare))
    catalog_admin.add_aftercare_rule(current_actor(), treatment_id, instruction=aftercare.instruction.data,
                                     hours=aftercare.hours.data, translations=aftercare.instruction_translations())
    flash(_("Aftercare step added."), "info")
    return redirect(url_for("admin.treatment", treatment_id=treatment_id))


@bp.route("/aftercare/<int(max=2147483647):rule_id>/delete", methods=["POST"])
@roles_required("admin")
def delete_aftercare(rule_id: int):
    """Remove an aftercare step."""
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("admin.treatments"))
    refusal_page(lambda error: redirect(url_for("admin.treatments")))
    treatment_id = catalog_admin.remove_aftercare_rule(current_actor(), rule_id)
    flash(_("Aftercare step removed."), "info")
    return redirect(url_for("admin.treatment", treatment_id=treatment_id))


# --- settings -----------------------------------------------------------------------------
@bp.route("/settings", methods=["GET", "POST"])
@roles_required("admin")
def settings():
    """The clinic's settings."""
    current = get_settings()
    sent = [k for k in MESSAGE_KINDS if k not in (current.messages_off or [])]
    form = SettingsForm(obj=current, messages_sent=sent) if request.method == "GET" else SettingsForm()
    if request.method == "POST":
        if form.validate_on_submit():
            refusal_page(lambda error: _settings_page(form, status=error.status))
            values = {name: form.data[name] for name in SETTINGS_FIELDS if name != "messages_off"}
            values["messages_off"] = form.messages_off_for(current.messages_off)
            clinic_admin.save_settings(current_actor(), values)
            flash(_("Settings saved."), "info")
            return redirect(url_for("admin.settings"))
        return _settings_page(form, status=400)
    return _settings_page(form)


def _settings_page(form: SettingsForm, texts=None, status: int = 200):
    """The settings page: the settings form and the clinic's texts for patients."""
    clinic = get_settings()
    texts = texts if texts is not None else clinic_texts_form(other_languages(), clinic)
    return render_template("admin/settings.html", form=form, texts=texts, clinic=clinic), status


@bp.route("/settings/texts", methods=["POST"])
@roles_required("admin")
def clinic_texts():
    """Save the clinic's welcome and after-booking note, in each language."""
    current = get_settings()
    texts = clinic_texts_form(other_languages(), current, request.form)
    settings_form = SettingsForm(formdata=None, obj=current,
                                 messages_sent=[k for k in MESSAGE_KINDS if k not in (current.messages_off or [])])
    if not texts.validate_on_submit():
        return _settings_page(settings_form, texts, 400)
    refusal_page(lambda error: _settings_page(settings_form, texts, error.status))
    save_clinic_texts(current_actor(), texts={name: texts[name].data for name in CLINIC_TEXTS if texts[name].raw_data},
                      translations=texts.translations())
    flash(_("Texts for patients saved."), "info")
    return redirect(url_for("admin.settings"))


# --- users --------------------------------------------------------------------------------
@bp.route("/users")
@roles_required("admin")
def users():
    """Staff first, then patients; with the search box."""
    query = select(User).order_by(User.role, User.name)
    text = (request.args.get("q") or "").strip()[:100]
    if text:
        query = query.where(User.name.ilike(f"%{text}%") | User.email.ilike(f"%{text}%"))
    rows = db.session.scalars(query.limit(300)).all()
    return render_template("admin/users.html", users=rows, q=text, clinic=get_settings())


def _save_user(user: User | None):
    """Validate and save the submitted user form."""
    form = UserForm()
    if not form.validate_on_submit():
        return render_template("admin/user.html", user=user, form=form, clinic=get_settings()), 400
    refusal_page(lambda error: (render_template("admin/user.html", user=user and db.session.get(User, user.id),
                                                form=form, clinic=get_settings()), error.status))
    saved = clinic_admin.save_user(current_actor(), user.id if user else None,
                                   values={name: form.data[name] for name in USER_FIELDS},
                                   password=form.password.data or None)
    if form.password.data and saved.id == current_user.id:
        login_user(saved)  # a new password ends every session; the admin's own one here goes on
    flash(_("%(name)s saved.", name=saved.name), "info")
    return redirect(url_for("admin.user", user_id=saved.id))


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def new_user():
    """Add an account."""
    if request.method == "POST":
        return _save_user(None)
    return render_template("admin/user.html", user=None, form=UserForm(formdata=None, role="receptionist"),
                           clinic=get_settings())


@bp.route("/users/<int(max=2147483647):user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user(user_id: int):
    """An account: details, role, active."""
    row = db.session.get(User, user_id)
    if row is None:
        abort(404, description=_("There is no such user."))
    if request.method == "POST":
        return _save_user(row)
    return render_template("admin/user.html", user=row, form=UserForm(formdata=None, obj=row), clinic=get_settings())
