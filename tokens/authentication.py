"""Bearer-token authentication for the API; built out in the API issue."""

from rest_framework.authentication import BaseAuthentication


class TokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        return None
