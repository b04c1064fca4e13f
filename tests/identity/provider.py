"""A real OpenID Connect provider for the tests: oidc-provider-mock served on 127.0.0.1.

It runs the authorization code flow, signs ID tokens with its own key (served as
JWKS), answers userinfo, refresh and end-session, and lets a test set a user's
claims (PUT /users/<sub>) or revoke their grants (POST /users/<sub>/revoke-tokens).
"""

import copy
import os
import threading
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import werkzeug.serving

# authlib refuses plain HTTP unless told this is a test; the provider listens on 127.0.0.1.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from oidc_provider_mock import app as provider_app  # noqa: E402

CLIENT_ID = "countersign-tests"
CLIENT_SECRET = "client-secret-for-tests"
GROUP_MAP = (
    "cs-iam=iam,cs-pam=pam,cs-security=security,cs-compliance=compliance,"
    "cs-officers=compliance-officer,cs-admins=staff,"
    "cs-people=product-owner,cs-people=team:people-ops"
)


@dataclass
class Provider:
    url: str

    def user_set(self, sub: str, **claims) -> None:
        """Create or replace the provider's user `sub` with these claims."""
        answer = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=10)
        answer.raise_for_status()

    def user_disable(self, sub: str) -> None:
        """Revoke every grant of the user, as disabling an account at a provider does."""
        answer = requests.post(f"{self.url}/users/{sub}/revoke-tokens", timeout=10)
        answer.raise_for_status()

    def authorize(self, authorization_url: str, sub: str, *, deny: bool = False) -> str:
        """Answer the provider's sign-in form as `sub`; return where it sends the browser."""
        assert authorization_url.startswith(f"{self.url}/oauth2/authorize?"), authorization_url
        form = {"action": "deny"} if deny else {"sub": sub}
        answer = requests.post(authorization_url, data=form, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def id_token_for(self, sub: str, *, client_id: str = CLIENT_ID, nonce: str = "n-1") -> str:
        """Run the code flow as a client of its own and return the ID token it is given."""
        redirect_uri = "http://127.0.0.1/callback"
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid email profile",
            "state": "s-1",
            "nonce": nonce,
        }
        prepared = requests.Request("GET", f"{self.url}/oauth2/authorize", params=query).prepare()
        location = self.authorize(prepared.url, sub)
        code = parse_qs(urlsplit(location).query)["code"][0]
        answer = requests.post(
            f"{self.url}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "client_secret": CLIENT_SECRET,
            },
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()["id_token"]


def serve(**options):
    """Start a provider on a free port of 127.0.0.1; return (url, stop)."""
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, provider_app(require_nonce=True, **options), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()

    def stop():
        server.shutdown()
        thread.join(5)
        server.server_close()

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture(scope="session")
def provider_url():
    url, stop = serve()
    yield url
    stop()


@pytest.fixture(scope="session")
def expired_provider_url():
    """A provider whose ID tokens have expired when they are issued."""
    url, stop = serve(access_token_max_age=timedelta(seconds=-300))
    yield url
    stop()


def configure(settings, issuer: str) -> None:
    """Turn single sign-on on against the provider at `issuer`, endpoints from discovery."""
    from identity.discovery import discovery_forget

    settings.OIDC_ISSUER = issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_GROUP_MAP = GROUP_MAP
    backends = [b for b in settings.AUTHENTICATION_BACKENDS if b != "identity.oidc.ProviderBackend"]
    settings.AUTHENTICATION_BACKENDS = [*backends, "identity.oidc.ProviderBackend"]
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["form-action"].append(issuer)
    settings.CONTENT_SECURITY_POLICY = policy
    discovery_forget()


@pytest.fixture
def provider(settings, provider_url):
    """Single sign-on turned on against the test provider."""
    configure(settings, provider_url)
    yield Provider(provider_url)
    from identity.discovery import discovery_forget

    discovery_forget()
