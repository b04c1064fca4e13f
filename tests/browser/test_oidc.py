"""Single sign-on in a real Chromium: through the provider's page, in with the mapped rights,
and a decision that records the provider's authentication."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

from agents.models import Agent
from audit.actors import SESSION_KEY
from signoffs.models import Decision, Dimension
from tests.browser.conftest import watch_csp
from tests.browser.test_story import sign_off
from tests.factories import AgentFactory
from tests.identity.provider import (  # noqa: F401  (fixtures)
    provider,
    provider_url,
)
from tokens.sessions import SessionStore


def age_sign_in(context, seconds: int) -> None:
    """Make the browser session's sign-in `seconds` older."""
    [key] = [c["value"] for c in context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = SessionStore(session_key=key)
    session[SESSION_KEY] = {**session[SESSION_KEY], "at": session[SESSION_KEY]["at"] - seconds}
    session.save()


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_through_the_provider_and_decide(
    browser,
    live_server,
    provider,  # noqa: F811  (the fixture imported above)
    workflow,
    shots,
    csp_violations,
):
    agent = AgentFactory(slug="benefits-copilot", name="Benefits copilot", owners=[workflow.owner])
    package = workflow.submit(agent)
    provider.user_set(
        "sub-ivy",
        preferred_username="ivy",
        email="ivy@example.com",
        groups=["cs-iam", "not-mapped"],
        acr="urn:example:mfa",
        amr=["pwd", "otp"],
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watch_csp(context, csp_violations)
    page = context.new_page()
    page.set_default_timeout(15_000)

    page.goto(f"{live_server.url}/login/")
    shots(page, "oidc-01-login")
    page.click("text=Sign in with Test IdP")
    # The provider's own sign-in page.
    page.wait_for_url(f"{provider.url}/oauth2/authorize?*")
    page.fill("input[name=sub]", "sub-ivy")
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator("body")).to_contain_text("ivy")
    # The mapping made ivy an IAM reviewer: the package waits in her queue.
    expect(page.get_by_test_id("queue-count")).to_have_text("1")
    shots(page, "oidc-02-dashboard")

    # Some time later the sign-in is too old to decide: the provider is asked again.
    age_sign_in(context, settings.STEP_UP_SECONDS + 60)
    page.locator("#queue a", has_text="Benefits copilot").click()
    form = page.locator("#decide-iam")
    form.locator("textarea").fill("Attribution is missing.")
    form.locator("button:has-text('Request changes')").click()
    page.wait_for_url(f"{provider.url}/oauth2/authorize?*prompt=login*")
    assert not Decision.objects.exists()
    page.fill("input[name=sub]", "sub-ivy")
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{live_server.url}{package.get_absolute_url()}#decide-iam")
    page.goto(f"{live_server.url}/")

    sign_off(page, Dimension.IAM)
    decision = Decision.objects.get(signoff__package=package)
    assert decision.reviewer.username == "ivy"
    assert decision.auth_method == "oidc"
    assert (decision.auth_acr, decision.auth_amr) == ("urn:example:mfa", ["pwd", "otp"])
    expect(page.get_by_test_id("decision-auth")).to_contain_text(
        "authenticated by single sign-on (oidc)"
    )
    shots(page, "oidc-03-decided")

    # Signing out ends the provider's session too: its end-session page is next.
    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{provider.url}/oauth2/end_session?*")
    assert Agent.objects.filter(slug="benefits-copilot").exists()
    context.close()
