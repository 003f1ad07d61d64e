"""What a use case raises when it cannot do what was asked; entry points turn these into 4xx."""

from __future__ import annotations

from collections.abc import Sequence

from booking.scheduling.checks import CONFLICT_CODES
from booking.scheduling.model import Problem


class ServiceError(Exception):
    """A use case refused a request; ``status`` is the HTTP status an entry point should use."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


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
        self.problems = list(problems)
        conflict = any(p.code in CONFLICT_CODES for p in self.problems)
        self.status = 409 if conflict else 422
        first = self.problems[0] if self.problems else None
        code = first.code if len(self.problems) == 1 and first else (
            "conflict" if conflict else "rule_violation"
        )
        super().__init__(message or self._summary(), code=code)

    def _summary(self) -> str:
        """A one-line summary naming every problem."""
        if len(self.problems) == 1:
            return self.problems[0].message
        return f"{len(self.problems)} problems: " + "; ".join(p.message for p in self.problems)
