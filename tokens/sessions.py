"""Browser sessions, stored in the database with the id of the user signed in to each.

The session engine (SESSION_ENGINE) is Django's database engine with its own model,
the documented way to extend it: a row names its signed-in user in an indexed
column, so the sessions of one user are found by that column (a deactivation ends
them, `agents.membership`) without reading anyone else's signed data.

The column follows the data on every save of the session. Django's login() cycles
the key first, then records the user, and the session middleware saves the session
at the end of that request: the row then names the user. A sign-out deletes the
row, and a session no user is signed in to names none.

They live here, with the API tokens: both are a user's credentials, and this app
sits below the membership services that end them.
"""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class BrowserSession(AbstractBaseSession):
    """A browser's session: Django's stored session, with the id of its signed-in user."""

    user_id = models.IntegerField(null=True, db_index=True, editable=False)

    class Meta(AbstractBaseSession.Meta):
        verbose_name = "browser session"
        verbose_name_plural = "browser sessions"

    @classmethod
    def get_session_store_class(cls):
        return SessionStore


def _signed_in_user_id(data: dict) -> int | None:
    """Return the id of the user the session data is signed in to, or None."""
    try:
        return int(data.get(SESSION_KEY))
    except (TypeError, ValueError):
        return None


class SessionStore(DatabaseSessionStore):
    """Django's database session store, on BrowserSession."""

    @classmethod
    def get_model_class(cls):
        return BrowserSession

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        session.user_id = _signed_in_user_id(data)
        return session

    async def acreate_model_instance(self, data):
        session = await super().acreate_model_instance(data)
        session.user_id = _signed_in_user_id(data)
        return session
