"""Consequential actions need a recent sign-in; the decision records how the decider signed in."""

import io
import json
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from agents.models import Agent
from approvals.evidence import package_evidence
from approvals.services import signoff_decide
from audit import signing
from audit.actors import SESSION_KEY, Actor, Authentication, AuthMethod
from audit.models import AuditEvent
from config.errors import StepUpRequired
from config.roles import Scope
from signoffs.models import Decision, Dimension
from tests.audit.test_evidence import run_verifier
from tests.identity.conftest import path_of
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-1"
REQUEST_CHANGES = {"iam-verdict": "request_changes", "iam-comment": "Narrow the scope."}


def decide_url(package, dimension=Dimension.IAM):
    return reverse("package-decide", args=[package.agent.slug, package.version, dimension])


def age_sign_in(client, seconds: int) -> None:
    """Make the session's sign-in `seconds` older."""
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "at": session[SESSION_KEY]["at"] - seconds}
    session.save()


def signoffs_in_bundle(package) -> list:
    """Return the bundle's sign-offs, once the verifier holds them to their events."""
    _, bundle = package_evidence(actor=Actor.system("tests"), package=package)
    bundle.seek(0)
    data = bundle.read()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bundle.zip"
        path.write_bytes(data)
        result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 0, result.stdout
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return json.loads(archive.read("signoffs.json"))


def test_a_fresh_password_sign_in_decides_and_is_recorded(client, workflow, agent, reviewers):
    package = workflow.submit(agent)
    before = time.time()
    client.force_login(reviewers[Dimension.IAM][0])

    assert client.post(decide_url(package), REQUEST_CHANGES).status_code == 302

    decision = Decision.objects.get(signoff__package=package)
    assert decision.auth_method == AuthMethod.PASSWORD
    assert before - 1 <= decision.auth_time.timestamp() <= time.time()
    page = client.get(package.get_absolute_url()).content.decode()
    assert "authenticated by password" in page
    event = AuditEvent.objects.get(action="signoff.decided")
    assert event.data["authentication"]["method"] == "password"
    [iam] = [s for s in signoffs_in_bundle(package) if s["dimension"] == "iam"]
    assert iam["decisions"][0]["authentication"]["method"] == "password"
    assert iam["decisions"][0]["authentication"]["auth_time"]


def test_a_stale_password_sign_in_is_asked_again_before_deciding(
    client, workflow, agent, reviewers, settings
):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.IAM][0])
    age_sign_in(client, settings.STEP_UP_SECONDS + 60)

    asked = client.post(decide_url(package), REQUEST_CHANGES)

    target = f"{package.get_absolute_url()}#decide-iam"
    assert asked.status_code == 302
    assert asked["Location"] == reverse("step-up") + "?next=" + target.replace("/", "%2F").replace(
        "#", "%23"
    )
    assert not Decision.objects.exists()
    page = client.get(asked["Location"])
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    wrong = client.post(reverse("step-up"), {"password": "not-it", "next": target})
    assert wrong.status_code == 400
    stepped = time.time()
    right = client.post(reverse("step-up"), {"password": PASSWORD, "next": target})
    assert right.status_code == 302 and right["Location"] == target

    assert client.post(decide_url(package), REQUEST_CHANGES).status_code == 302
    decision = Decision.objects.get(signoff__package=package)
    assert decision.auth_method == AuthMethod.PASSWORD
    assert decision.auth_time.timestamp() >= stepped - 1


def test_the_step_up_page_sends_only_to_this_site(client, reviewers):
    client.force_login(reviewers[Dimension.IAM][0])
    answer = client.post(
        reverse("step-up"), {"password": PASSWORD, "next": "https://evil.example.com/"}
    )
    assert answer["Location"] == reverse("dashboard")


def test_a_stale_sign_in_cannot_pull_the_kill_switch_or_create_tokens(
    client, workflow, agent, reviewers, settings
):
    security = reviewers[Dimension.SECURITY][0]
    workflow.approve(agent)
    client.force_login(security)
    age_sign_in(client, settings.STEP_UP_SECONDS + 1)

    suspend = client.post(
        reverse("agent-suspend", args=[agent.slug]), {"reason": "Leaking data.", "step": "confirm"}
    )
    token_page = client.post(
        reverse("token-list"), {"name": "ci", "scopes": [Scope.GATE_CHECK], "days": 30}
    )
    token_api = client.post(
        "/api/v1/tokens",
        {"name": "ci", "scopes": [Scope.GATE_CHECK]},
        content_type="application/json",
    )
    suspend_api = client.post(
        f"/api/v1/agents/{agent.slug}/suspend",
        {"reason": "Leaking data."},
        content_type="application/json",
    )

    for answer in (suspend, token_page):
        assert answer.status_code == 302 and answer["Location"].startswith(reverse("step-up"))
    for answer in (token_api, suspend_api):
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "step_up_required"
    assert Agent.objects.get(pk=agent.pk).suspended_at is None
    assert not ApiToken.objects.filter(user=security).exists()


def test_the_services_refuse_a_stale_person_and_record_machines_and_the_console(
    workflow, agent, reviewers, api, settings
):
    package = workflow.submit(agent)
    stale = Authentication(method=AuthMethod.OIDC, at=time.time() - settings.STEP_UP_SECONDS - 5)
    with pytest.raises(StepUpRequired):
        signoff_decide(
            actor=Actor.for_user(reviewers[Dimension.IAM][0], auth=stale),
            package=package,
            dimension=Dimension.IAM,
            verdict="request_changes",
            comment="Narrow it.",
        )
    assert not Decision.objects.exists()

    by_console = workflow.decide(package, Dimension.SECURITY)
    assert by_console.auth_method == AuthMethod.CONSOLE

    machine = api(reviewers[Dimension.PAM][0], Scope.REVIEWS_WRITE)
    answer = machine.post(
        f"/api/v1/agents/{agent.slug}/packages/{package.version}/signoffs/pam/decisions",
        {"verdict": "request_changes", "comment": "Shorter credentials."},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    by_token = Decision.objects.get(signoff__dimension=Dimension.PAM)
    assert (by_token.auth_method, by_token.auth_time) == (AuthMethod.TOKEN, None)


def test_an_oidc_step_up_goes_through_the_provider_and_is_recorded(
    client, provider, sso, workflow, agent, settings
):
    package = workflow.submit(agent)
    provider.user_set(
        "sub-ines",
        preferred_username="ines",
        groups=["cs-iam"],
        acr="urn:example:mfa",
        amr=["pwd", "otp"],
    )
    sso("sub-ines")
    age_sign_in(client, settings.STEP_UP_SECONDS + 60)

    asked = client.post(decide_url(package), REQUEST_CHANGES)
    assert asked["Location"].startswith(reverse("step-up"))
    to_provider = client.get(asked["Location"])
    assert to_provider["Location"].startswith(reverse("oidc-sign-in") + "?step_up=1")
    authorization = client.get(to_provider["Location"])["Location"]
    assert "prompt=login" in authorization and "max_age=0" in authorization
    back = client.get(path_of(provider.authorize(authorization, "sub-ines")))
    assert (
        back.status_code == 302 and back["Location"] == f"{package.get_absolute_url()}#decide-iam"
    )

    assert client.post(decide_url(package), REQUEST_CHANGES).status_code == 302
    decision = Decision.objects.get(signoff__package=package)
    assert decision.reviewer.username == "ines"
    assert decision.auth_method == AuthMethod.OIDC
    assert abs(decision.auth_time.timestamp() - time.time()) < 60
    assert (decision.auth_acr, decision.auth_amr) == ("urn:example:mfa", ["pwd", "otp"])
    page = client.get(package.get_absolute_url()).content.decode()
    assert "authenticated by single sign-on (oidc)" in page and "acr urn:example:mfa" in page
    [iam] = [s for s in signoffs_in_bundle(package) if s["dimension"] == "iam"]
    recorded = iam["decisions"][0]["authentication"]
    assert recorded["method"] == "oidc" and recorded["amr"] == ["pwd", "otp"]


def test_a_provider_reporting_an_old_authentication_does_not_count_as_fresh(
    client, provider, sso, workflow, agent, settings
):
    package = workflow.submit(agent)
    long_ago = int(time.time()) - settings.STEP_UP_SECONDS - 600
    provider.user_set("sub-olaf", preferred_username="olaf", groups=["cs-iam"], auth_time=long_ago)
    sso("sub-olaf")
    assert client.session[SESSION_KEY]["at"] == long_ago
    asked = client.post(decide_url(package), REQUEST_CHANGES)
    assert asked["Location"].startswith(reverse("step-up"))
    assert not Decision.objects.exists()


def test_a_sign_in_without_auth_time_is_fresh_only_when_it_answers_a_step_up(
    client, provider, sso, workflow, agent, settings
):
    package = workflow.submit(agent)
    # The provider sends no auth_time (Entra ID's default, for one).
    provider.user_set("sub-ines", preferred_username="ines", groups=["cs-iam"], auth_time=None)
    sso("sub-ines")
    assert "prompt" not in sso.authorization and "max_age" not in sso.authorization
    assert client.session[SESSION_KEY]["at"] is None
    # A step-up started and left is not what the next plain sign-in answers.
    started = client.get(f"{reverse('oidc-sign-in')}?step_up=1")["Location"]
    assert "prompt=login" in started
    sso("sub-ines")
    assert client.session[SESSION_KEY]["at"] is None

    asked = client.post(decide_url(package), REQUEST_CHANGES)
    assert asked["Location"].startswith(reverse("step-up"))
    assert not Decision.objects.exists()

    to_provider = client.get(asked["Location"])["Location"]
    authorization = client.get(to_provider)["Location"]
    assert "prompt=login" in authorization and "max_age=0" in authorization
    client.get(path_of(provider.authorize(authorization, "sub-ines")))
    assert abs(client.session[SESSION_KEY]["at"] - time.time()) < 60
    assert client.post(decide_url(package), REQUEST_CHANGES).status_code == 302
    decision = Decision.objects.get(signoff__package=package)
    assert (decision.reviewer.username, decision.auth_method) == ("ines", AuthMethod.OIDC)


def test_a_plain_sign_in_is_fresh_by_the_providers_auth_time(
    client, provider, sso, workflow, agent
):
    package = workflow.submit(agent)
    just_now = int(time.time()) - 5
    provider.user_set("sub-ines", preferred_username="ines", groups=["cs-iam"], auth_time=just_now)
    sso("sub-ines")
    assert client.session[SESSION_KEY]["at"] == just_now
    assert client.post(decide_url(package), REQUEST_CHANGES).status_code == 302
    assert Decision.objects.get(signoff__package=package).auth_time.timestamp() == just_now
