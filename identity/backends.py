"""Local password sign-in, which an installation can turn off (settings.LOCAL_LOGIN)."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class LocalPasswordBackend(ModelBackend):
    """Django's password check, refused while LOCAL_LOGIN is off; permissions as ever."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.LOCAL_LOGIN:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
