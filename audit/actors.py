"""Who did something: a user (maybe through an API token) or the system."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    type: str
    id: str
    label: str
    token_label: str = ""
    user: Any = None
    token: Any = None

    @classmethod
    def for_user(cls, user, token=None) -> "Actor":
        token_label = f"token:{token.prefix} ({token.name})" if token is not None else ""
        return cls(
            type="token" if token is not None else "user",
            id=str(user.pk),
            label=user.get_username(),
            token_label=token_label,
            user=user,
            token=token,
        )

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(type="system", id="", label=label)

    @property
    def is_system(self) -> bool:
        return self.type == "system"
