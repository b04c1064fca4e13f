"""Local password sign-in, which an installation can turn off (settings.LOCAL_LOGIN)."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend

from config.usernames import user_named


class LocalPasswordBackend(ModelBackend):
    """Django's password check, refused while LOCAL_LOGIN is off; permissions as ever.

    The username typed names its user in any case (config.usernames), as everywhere else.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.LOCAL_LOGIN:
            return None
        user = user_named(username) if isinstance(username, str) else None
        if user is not None:
            username = user.get_username()
        return super().authenticate(request, username=username, password=password, **kwargs)
