"""Fixtures of the sign-in tests: the provider, signing in through it with the test client."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.identity.provider import (  # noqa: F401  (fixtures)
    expired_provider_url,
    provider,
    provider_url,
)
from tests.web.conftest import pages_settings  # noqa: F401  (autouse: static, cache)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.fixture
def sso(client, provider):  # noqa: F811  (the fixture imported above)
    """Return a function signing the test client in through the provider as `sub`.

    It returns the answer of the app's callback (a redirect when signed in).
    """

    def sign_in(sub: str, *, next_url: str = "", step_up: bool = False, deny: bool = False):
        query = {key: value for key, value in {"next": next_url}.items() if value}
        if step_up:
            query["step_up"] = "1"
        start = client.get(f"/oidc/authenticate/?{urlencode(query)}")
        assert start.status_code == 302, start.content
        sign_in.authorization = parse_qs(urlsplit(start["Location"]).query)
        callback = provider.authorize(start["Location"], sub, deny=deny)
        assert callback.startswith("http://testserver/oidc/callback/?"), callback
        return client.get(path_of(callback))

    return sign_in
