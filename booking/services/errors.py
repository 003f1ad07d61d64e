"""What a use case raises when it cannot do what was asked; entry points turn these into 4xx.

A refusal's message may be a rule book :class:`~booking.scheduling.text.Text` (English, with
what it takes to say it in another language): read during a request, ``message`` and a rule
violation's ``problems`` are in the request's language (issue 16); ``text`` and ``rule_problems``
keep the Text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from flask import has_request_context

from booking.i18n import translate
from booking.scheduling.checks import CONFLICT_CODES
from booking.scheduling.model import Problem
from booking.scheduling.text import N_, Text, join


class ServiceError(Exception):
    """A use case refused a request; ``status`` is the HTTP status an entry point should use."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.text = message
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The message, in the request's language when read during one."""
        return translate(self.text) if has_request_context() else self.text

    @message.setter
    def message(self, value: str) -> None:
        self.text = value


class InvalidRequest(ServiceError):
    """The request is malformed or names something that cannot be used (400)."""

    status = 400
    code = "invalid_request"


class NotFound(ServiceError):
    """The thing does not exist, or the caller may not know that it does (404)."""

    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    """The caller is known but their role may not do this (403)."""

    status = 403
    code = "forbidden"


class RuleViolation(ServiceError):
    """Scheduling rules refuse the request: 409 for conflicts (slot taken, patient busy),
    422 for every other rule problem."""

    def __init__(self, problems: Sequence[Problem], message: str | None = None) -> None:
        self.rule_problems = list(problems)
        conflict = any(p.code in CONFLICT_CODES for p in self.rule_problems)
        self.status = 409 if conflict else 422
        first = self.rule_problems[0] if self.rule_problems else None
        code = first.code if len(self.rule_problems) == 1 and first else (
            "conflict" if conflict else "rule_violation"
        )
        super().__init__(message or self._summary(), code=code)

    @property
    def problems(self) -> list[Problem]:
        """The problems, their messages in the request's language when read during one."""
        if not has_request_context():
            return list(self.rule_problems)
        return [replace(p, message=translate(p.message)) for p in self.rule_problems]

    @problems.setter
    def problems(self, value: Sequence[Problem]) -> None:
        self.rule_problems = list(value)

    def _summary(self) -> str:
        """A one-line summary naming every problem."""
        if len(self.rule_problems) == 1:
            return self.rule_problems[0].message
        return N_("%(num)d problems: %(problems)s", num=len(self.rule_problems),
                  problems=join([p.message for p in self.rule_problems]))
