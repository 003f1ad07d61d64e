"""The admin forms' fields for texts in other languages (issue 16): a treatment's name and
description and its steps' instructions, and the clinic's welcome and after-booking note.

The fields depend on the languages the app speaks besides the clinic's default and on the
treatment's steps, so each form class is made for the page that shows it. An empty field falls
back to the default language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from booking.i18n import LANGUAGE_NAMES
from booking.models import AftercareRule, ClinicSettings, PrepRule, Treatment
from booking.services.translated import step_key
from booking.web.admin.forms import AftercareRuleForm, PrepRuleForm, TreatmentForm
from booking.web.forms_base import SafeForm

TEXT_LIMIT = 2000  # the clinic's welcome and note, per language


def _field_name(key: str, language: str) -> str:
    """"name__it", "prep_3__it": a form field's name for a text in a language."""
    return f"{key.replace('-', '_')}__{language}"


def _language(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


class TranslatedFields:
    """What a form with texts in other languages adds: which fields hold which text, to show
    them grouped, fill them from a row and read them back for the service."""

    languages: Sequence[str] = ()
    own_fields: Sequence[str] = ()  # the row's own texts: ("name", "description")
    steps: Sequence[tuple[str, str]] = ()  # (step key, its text in the default language)

    def language_fields(self) -> list[tuple[str, list[Any]]]:
        """(language name, the row's fields in it), for the page."""
        return [(_language(lang), [self[_field_name(f, lang)] for f in self.own_fields]) for lang in self.languages]

    def step_fields(self) -> list[tuple[str, list[Any]]]:
        """(the step's default text, its fields per language), for the page."""
        return [(text, [self[_field_name(key, lang)] for lang in self.languages]) for key, text in self.steps]

    def fill(self, row: Any, steps: Sequence[PrepRule | AftercareRule] = ()) -> None:
        """Put the texts written so far into the fields."""
        for lang in self.languages:
            for f in self.own_fields:
                self[_field_name(f, lang)].data = row.translation(lang, f)
            for step in steps:
                self[_field_name(step_key(step), lang)].data = step.translation(lang, "instruction")

    def _posted(self, name: str) -> bool:
        """Whether the submitted data had the field: a form from before a language or step was
        added keeps the texts it did not show."""
        return bool(self[name].raw_data)

    def translations(self) -> dict[str, dict[str, str]]:
        """{"it": {"name": ..., "description": ...}} from the submitted fields."""
        found: dict[str, dict[str, str]] = {}
        for lang in self.languages:
            for f in self.own_fields:
                if self._posted(_field_name(f, lang)):
                    found.setdefault(lang, {})[f] = self[_field_name(f, lang)].data or ""
        return found

    def step_translations(self) -> dict[str, dict[str, str]]:
        """{"prep-3": {"it": ...}} from the submitted fields."""
        found: dict[str, dict[str, str]] = {}
        for key, _text in self.steps:
            for lang in self.languages:
                if self._posted(_field_name(key, lang)):
                    found.setdefault(key, {})[lang] = self[_field_name(key, lang)].data or ""
        return found


def treatment_form_class(languages: Sequence[str], treatment: Treatment | None) -> type[TreatmentForm]:
    """The treatment form with "Name (Italiano)", "Description (Italiano)" and each step's
    instruction for every language in ``languages``."""
    steps = []
    if treatment is not None and treatment.protocol is not None:
        steps = [*treatment.protocol.prep_rules, *treatment.protocol.aftercare_rules]
    fields: dict[str, Any] = {"languages": tuple(languages), "own_fields": ("name", "description"),
                              "steps": tuple((step_key(s), s.default_text("instruction")) for s in steps)}
    for lang in languages:
        fields[_field_name("name", lang)] = StringField(
            _("Name (%(language)s)", language=_language(lang)), validators=[Optional(), Length(max=120)])
        fields[_field_name("description", lang)] = TextAreaField(
            _("Description (%(language)s)", language=_language(lang)), validators=[Optional(), Length(max=4000)])
        for step in steps:
            fields[_field_name(step_key(step), lang)] = StringField(
                _("Instruction (%(language)s)", language=_language(lang)), validators=[Optional(), Length(max=200)])
    return type("TranslatedTreatmentForm", (TranslatedFields, TreatmentForm), fields)


class TranslatedStep:
    """What a new step's form adds: its instruction in other languages."""

    languages: Sequence[str] = ()

    def language_fields(self) -> list[Any]:
        """The instruction's fields per language, for the page."""
        return [self[_field_name("instruction", lang)] for lang in self.languages]

    def instruction_translations(self) -> dict[str, str]:
        """{"it": ...} from the submitted fields."""
        return {lang: self[_field_name("instruction", lang)].data or "" for lang in self.languages}


def step_form_class(base: type[PrepRuleForm] | type[AftercareRuleForm], languages: Sequence[str]) -> type:
    """The form adding a prep or aftercare step, with its instruction for every language in
    ``languages`` (empty: the step reads as written in the default language)."""
    fields: dict[str, Any] = {"languages": tuple(languages)}
    for lang in languages:
        fields[_field_name("instruction", lang)] = StringField(
            _("Instruction (%(language)s)", language=_language(lang)), validators=[Optional(), Length(max=200)])
    return type(f"Translated{base.__name__}", (TranslatedStep, base), fields)


class ClinicTextsForm(SafeForm):
    """The clinic's words for patients, in its default language."""

    welcome_text = TextAreaField(_l("Welcome text on the home page"), validators=[Optional(), Length(max=TEXT_LIMIT)])
    booking_note = TextAreaField(_l("Note shown after booking"), validators=[Optional(), Length(max=TEXT_LIMIT)])


def clinic_texts_form_class(languages: Sequence[str]) -> type[ClinicTextsForm]:
    """The clinic's texts form with both texts for every language in ``languages``."""
    fields: dict[str, Any] = {"languages": tuple(languages), "own_fields": ("welcome_text", "booking_note")}
    for lang in languages:
        fields[_field_name("welcome_text", lang)] = TextAreaField(
            _("Welcome text (%(language)s)", language=_language(lang)),
            validators=[Optional(), Length(max=TEXT_LIMIT)])
        fields[_field_name("booking_note", lang)] = TextAreaField(
            _("Note after booking (%(language)s)", language=_language(lang)),
            validators=[Optional(), Length(max=TEXT_LIMIT)])
    return type("TranslatedClinicTextsForm", (TranslatedFields, ClinicTextsForm), fields)


def clinic_texts_form(languages: Sequence[str], settings: ClinicSettings, formdata=None) -> ClinicTextsForm:
    """The clinic's texts form, from the settings row (default texts as written, not as read in
    the current language) or from the submitted data."""
    form_class = clinic_texts_form_class(languages)
    if formdata is not None:
        return form_class(formdata=formdata)
    form = form_class(formdata=None, data={name: settings.default_text(name) for name in ("welcome_text", "booking_note")})
    form.fill(settings)
    return form
