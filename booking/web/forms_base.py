"""The base of every HTML form: text inputs refuse control characters.

No name, e-mail, phone, note or reason typed by a person holds a NUL, an escape or a line
break in a one-line field. Refusing them at the edge keeps them out of mail headers (a CR/LF
in a name once made mails fail for good), out of PostgreSQL (which cannot store NUL in text)
and out of logs and calendar files. Multi-line fields keep line breaks and tabs.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField, TextAreaField
from wtforms.validators import ValidationError

# C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators.
ONE_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same, but line breaks and tabs are text in a multi-line field.
MULTI_LINE_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
MESSAGE = lazy_gettext("Remove the control characters (such as line breaks or invisible codes) from this field.")


def control_characters(value: str, multi_line: bool = False) -> bool:
    """True when ``value`` holds a character no text input here accepts."""
    return bool((MULTI_LINE_FORBIDDEN if multi_line else ONE_LINE_FORBIDDEN).search(value))


def no_control_characters(form: Any, field: Field) -> None:
    """WTForms validator: refuse control characters (line breaks allowed in a text area)."""
    value = field.data
    if isinstance(value, str) and control_characters(value, isinstance(field, TextAreaField)):
        raise ValidationError(str(MESSAGE))


class SafeForm(FlaskForm):
    """A FlaskForm whose every text input (string, e-mail, phone, password, text area) runs
    :func:`no_control_characters` after its own validators.

    Hidden fields are left to the code that reads them (``safe_next``, the wizard's session
    decoder, ``AnyOf``/``Regexp`` validators): nobody types them, and an error on a field the
    page does not show would leave a person stuck on a form they cannot correct."""

    def validate(self, extra_validators: dict[str, list] | None = None) -> bool:
        """Validate as usual, with the control-character rule added to every text input."""
        extra = {name: list(validators) for name, validators in (extra_validators or {}).items()}
        for name, field in self._fields.items():
            if isinstance(field, StringField) and not isinstance(field, HiddenField):
                extra.setdefault(name, []).append(no_control_characters)
        return super().validate(extra_validators=extra)
