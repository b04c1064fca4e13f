"""The address a request comes from, as far as the configured proxies vouch for it."""

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip


def client_address(request: HttpRequest) -> str | None:
    """Return the client's IP address, or None when the request carries no valid one.

    With `TRUSTED_PROXY_COUNT` = 0 it is the connection's own address. Behind N
    proxies, each appending the address it was called from to X-Forwarded-For,
    it is the N-th entry from the right: the one the outermost trusted proxy
    wrote. Entries further left are the client's own claims and are ignored.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        # django-ipware counts the proxies listed inside the header, which leaves
        # out the nearest one: that one is the connection itself.
        headers, listed = ["HTTP_X_FORWARDED_FOR"], proxies - 1
    else:
        headers, listed = ["REMOTE_ADDR"], None
    address, _ = get_client_ip(
        request, proxy_count=listed, request_header_order=headers, strict=False
    )
    return address
