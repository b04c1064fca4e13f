"""The provider's settings: those configured, the others from its discovery document.

mozilla-django-oidc reads each endpoint from a setting; `oidc_setting` answers
those left empty from `<issuer>/.well-known/openid-configuration`, fetched once
per process and kept for an hour, and only from a document whose issuer is the
configured one.
"""

import threading
import time

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Each setting mozilla-django-oidc reads, and the discovery document's field for it.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
}
KEEP_SECONDS = 3600

_documents: dict[str, tuple[float, dict]] = {}
_lock = threading.Lock()


class DiscoveryError(ImproperlyConfigured):
    """The provider's discovery document could not be read, or names another issuer."""


def discovery_document(issuer: str) -> dict:
    """Return the issuer's discovery document, fetched at most once an hour."""
    now = time.monotonic()
    with _lock:
        kept = _documents.get(issuer)
        if kept is not None and now - kept[0] < KEEP_SECONDS:
            return kept[1]
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise DiscoveryError(f"Cannot read the provider's discovery document {url}: {error}")
    if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer:
        raise DiscoveryError(f"The discovery document at {url} names another issuer.")
    with _lock:
        _documents[issuer] = (now, document)
    return document


def discovery_forget() -> None:
    """Drop the kept documents (a test that starts another provider)."""
    with _lock:
        _documents.clear()


def oidc_setting(name: str, *default):
    """Return a setting of mozilla-django-oidc, an empty endpoint read from discovery."""
    value = getattr(settings, name, *default) if default else getattr(settings, name, None)
    if value is None and not default:
        raise ImproperlyConfigured(f"Setting {name} not found")
    if name in DISCOVERED and not value:
        value = discovery_document(settings.OIDC_ISSUER).get(DISCOVERED[name]) or (
            default[0] if default else None
        )
    return value
