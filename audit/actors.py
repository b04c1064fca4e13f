"""Who did something: a user (maybe through an API token) or the system, and how they
proved who they were.

A signed-in session remembers how and when its user authenticated (`Authentication`,
kept in the session under SESSION_KEY); an actor made from a request carries it, so a
service can refuse a consequential action whose authentication is stale and record
the authentication on what it decides.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models

from config.errors import StepUpRequired


class AuthMethod(models.TextChoices):
    """How an actor proved who they were (the values name methods, they are no secrets)."""

    PASSWORD = "password", "Password"  # noqa: S105
    OIDC = "oidc", "Single sign-on (OIDC)"
    # An API token: a machine, never asked to authenticate again.
    TOKEN = "token", "API token"  # noqa: S105
    # A management command, the shell or the demo data: a process on the server, no sign-in.
    CONSOLE = "console", "Server console"


# A person at a browser: asked to authenticate again for consequential actions.
INTERACTIVE_METHODS = (AuthMethod.PASSWORD, AuthMethod.OIDC)


class ActorType(models.TextChoices):
    USER = "user", "User"
    TOKEN = "token", "API token"
    SYSTEM = "system", "System"


# The label of the system acting as itself rather than as one of its jobs.
SYSTEM_LABEL = "system"


SESSION_KEY = "countersign_authentication"


@dataclass(frozen=True)
class Authentication:
    method: str
    # Seconds since the epoch when the user last proved who they were (None: unknown).
    at: float | None = None
    acr: str = ""
    amr: list[str] = field(default_factory=list)

    def age(self, now: float | None = None) -> float | None:
        return None if self.at is None else (now or time.time()) - self.at

    def is_fresh(self) -> bool:
        """Return whether a person authenticated within the step-up window (machines always are)."""
        if self.method not in INTERACTIVE_METHODS:
            return True
        age = self.age()
        return age is not None and age <= settings.STEP_UP_SECONDS

    def as_session(self) -> dict:
        return {"method": self.method, "at": self.at, "acr": self.acr, "amr": list(self.amr)}

    @classmethod
    def from_session(cls, session) -> "Authentication | None":
        value = session.get(SESSION_KEY)
        if not isinstance(value, dict) or value.get("method") not in INTERACTIVE_METHODS:
            return None
        at = value.get("at")
        return cls(
            method=value["method"],
            at=float(at) if isinstance(at, int | float) else None,
            acr=str(value.get("acr") or ""),
            amr=[str(item) for item in value.get("amr") or []],
        )


def authentication_remember(session, authentication: Authentication) -> None:
    """Keep in the session how and when its user authenticated."""
    session[SESSION_KEY] = authentication.as_session()


@dataclass(frozen=True)
class Actor:
    type: str
    id: str
    label: str
    token_label: str = ""
    user: Any = None
    token: Any = None
    # How the user proved who they were; None for the system and for code run on the
    # server (commands, the shell), which record AuthMethod.CONSOLE.
    auth: Authentication | None = None
    # Run in the transaction before each event of the actor's is appended, so before the
    # chain's lock: it raises when the actor may no longer act, and locks what says so
    # until the commit. A token's request gets its token's check (`tokens.authentication`):
    # the audit app knows no tokens.
    confirm: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def for_user(cls, user, auth: Authentication | None = None) -> "Actor":
        return cls(
            type=ActorType.USER, id=str(user.pk), label=user.get_username(), user=user, auth=auth
        )

    @classmethod
    def for_token(
        cls, user, *, user_id: int, username: str, token, confirm: Callable[[], None] | None = None
    ) -> "Actor":
        """Return the actor of a token's request, named from the token's read.

        `user` may be loaded lazily: naming the actor does not load it. `confirm` checks,
        before each of the actor's events, that the token may still act.
        """
        return cls(
            type=ActorType.TOKEN,
            id=str(user_id),
            label=username,
            token_label=f"token:{token.prefix} ({token.name})",
            user=user,
            token=token,
            auth=Authentication(method=AuthMethod.TOKEN),
            confirm=confirm,
        )

    @classmethod
    def for_session(cls, request) -> "Actor":
        """Return the signed-in user of a browser request, with how their session authenticated.

        A session that kept no authentication counts as authenticated at an unknown
        time: it is never fresh.
        """
        auth = Authentication.from_session(request.session) or Authentication(
            method=AuthMethod.PASSWORD
        )
        return cls.for_user(request.user, auth=auth)

    @classmethod
    def system(cls, label: str = SYSTEM_LABEL) -> "Actor":
        return cls(type=ActorType.SYSTEM, id="", label=label)

    @property
    def is_system(self) -> bool:
        return self.type == ActorType.SYSTEM

    @property
    def authentication(self) -> Authentication:
        """Return how the actor authenticated; code run on the server is the console."""
        return self.auth or Authentication(method=AuthMethod.CONSOLE)

    def require_fresh_authentication(self) -> None:
        """Refuse a consequential action of a person whose sign-in is older than the window."""
        if not self.authentication.is_fresh():
            minutes = max(1, settings.STEP_UP_SECONDS // 60)
            raise StepUpRequired(
                f"Confirm it is you: sign in again (at most {minutes} minutes ago) to do this."
            )
