"""Who is asking: the plain value every use case takes instead of ``current_user``."""

from __future__ import annotations

from dataclasses import dataclass

from booking.models import STAFF_ROLES


@dataclass(frozen=True, slots=True)
class Actor:
    """The user on whose behalf a use case runs."""

    user_id: int
    role: str

    @property
    def is_patient(self) -> bool:
        """True for patients."""
        return self.role == "patient"

    @property
    def is_staff(self) -> bool:
        """True for admin, receptionist and practitioner."""
        return self.role in STAFF_ROLES

    @property
    def can_book_for_others(self) -> bool:
        """Receptionists and admins book, move and cancel for patients."""
        return self.role in ("admin", "receptionist")

    @classmethod
    def of(cls, user) -> Actor:
        """The actor for a ``User`` row."""
        return cls(user_id=user.id, role=user.role)
