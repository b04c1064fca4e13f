"""The client address: the connection's own, or the one the trusted proxies forwarded."""

import pytest
from django.test import RequestFactory

from config.clients import client_address


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        # No trusted proxy: the header is the client's own claim.
        (0, "203.0.113.9", "198.51.100.7", "203.0.113.9"),
        (0, "2001:db8::9", None, "2001:db8::9"),
        # One proxy appends the address it was called from.
        (1, "10.0.0.2", "203.0.113.9", "203.0.113.9"),
        (1, "10.0.0.2", "198.51.100.7, 203.0.113.9", "203.0.113.9"),
        (1, "10.0.0.2", "203.0.113.9:51234", "203.0.113.9"),
        # Two: the outer one's entry is the second from the right.
        (2, "10.0.0.3", "198.51.100.7, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        # A header that holds no address, or fewer hops than proxies: no address.
        (1, "10.0.0.2", "not-an-address", None),
        (1, "10.0.0.2", None, None),
        (2, "10.0.0.3", "203.0.113.9", None),
    ],
)
def test_client_address(settings, proxies, remote, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_address(RequestFactory().get("/", **meta)) == expected
