"""ID tokens from the provider are refused when tampered, expired, for another audience,
from another issuer, or for another sign-in (nonce)."""

import base64
import json

import pytest
from django.core.exceptions import SuspiciousOperation

from identity.oidc import ProviderBackend
from tests.identity.conftest import path_of
from tests.identity.provider import Provider, configure

pytestmark = pytest.mark.django_db


def _backend() -> ProviderBackend:
    return ProviderBackend()


def _with_payload(token: str, **changes) -> str:
    """Return the token with claims changed and its original signature."""
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{body}.{signature}"


def test_a_valid_id_token_is_accepted(provider):
    provider.user_set("sub-val", preferred_username="val")
    claims = _backend().verify_token(provider.id_token_for("sub-val", nonce="n-7"), nonce="n-7")
    assert claims["sub"] == "sub-val"
    assert claims["iss"] == provider.url and claims["aud"] in (
        "countersign-tests",
        ["countersign-tests"],
    )


def test_a_tampered_id_token_is_refused(provider):
    provider.user_set("sub-tam", preferred_username="tam", groups=[])
    token = provider.id_token_for("sub-tam")
    forged = _with_payload(token, groups=["cs-admins"])
    with pytest.raises(SuspiciousOperation, match="Signature verification failed"):
        _backend().verify_token(forged, nonce="n-1")


def test_a_token_for_another_sign_in_is_refused(provider):
    provider.user_set("sub-replay", preferred_username="replay")
    token = provider.id_token_for("sub-replay", nonce="someone-elses")
    with pytest.raises(SuspiciousOperation, match="Nonce"):
        _backend().verify_token(token, nonce="mine")


def test_a_token_for_another_client_is_refused(provider):
    provider.user_set("sub-aud", preferred_username="aud")
    token = provider.id_token_for("sub-aud", client_id="another-client")
    with pytest.raises(SuspiciousOperation, match="(?i)audience"):
        _backend().verify_token(token, nonce="n-1")


def test_a_token_of_another_issuer_is_refused(provider, settings):
    provider.user_set("sub-iss", preferred_username="iss")
    token = provider.id_token_for("sub-iss")
    # Endpoints configured one by one, so the app reads the provider's keys while it
    # expects another issuer.
    settings.OIDC_OP_JWKS_ENDPOINT = f"{provider.url}/jwks"
    settings.OIDC_ISSUER = "https://login.example.com/tenant"
    with pytest.raises(SuspiciousOperation, match="issuer"):
        _backend().verify_token(token, nonce="n-1")


def test_an_expired_token_is_refused(settings, expired_provider_url):
    configure(settings, expired_provider_url)
    expired = Provider(expired_provider_url)
    expired.user_set("sub-old", preferred_username="old")
    with pytest.raises(SuspiciousOperation, match="expired"):
        _backend().verify_token(expired.id_token_for("sub-old"), nonce="n-1")


def test_a_sign_in_with_an_expired_token_signs_nobody_in(client, settings, expired_provider_url):
    configure(settings, expired_provider_url)
    expired = Provider(expired_provider_url)
    expired.user_set("sub-late", preferred_username="late", groups=["cs-admins"])
    start = client.get("/oidc/authenticate/")
    answer = client.get(path_of(expired.authorize(start["Location"], "sub-late")))
    assert answer["Location"] == "/login/"
    assert "_auth_user_id" not in client.session
    assert "expired" in client.get("/login/").content.decode()


def test_a_sign_in_from_the_wrong_issuer_signs_nobody_in(client, provider, settings):
    provider.user_set("sub-wrong", preferred_username="wrong", groups=["cs-admins"])
    for name, path in [
        ("OIDC_OP_AUTHORIZATION_ENDPOINT", "/oauth2/authorize"),
        ("OIDC_OP_TOKEN_ENDPOINT", "/oauth2/token"),
        ("OIDC_OP_USER_ENDPOINT", "/userinfo"),
        ("OIDC_OP_JWKS_ENDPOINT", "/jwks"),
    ]:
        setattr(settings, name, provider.url + path)
    settings.OIDC_ISSUER = "https://login.example.com/tenant"
    start = client.get("/oidc/authenticate/")
    answer = client.get(path_of(provider.authorize(start["Location"], "sub-wrong")))
    assert answer["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_discovery_naming_another_issuer_is_refused(client, provider, settings):
    settings.OIDC_ISSUER = provider.url + "/elsewhere"
    answer = client.get("/oidc/authenticate/")
    assert answer.status_code == 302 and answer["Location"] == "/login/"
    assert "cannot be reached" in client.get("/login/").content.decode()
