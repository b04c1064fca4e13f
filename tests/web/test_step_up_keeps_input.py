"""A form refused for a stale sign-in gives back what the user typed once they sign in again.

Nothing is submitted for them: the refused post changes nothing and audits nothing, and the
form only comes back filled in, to be submitted again.
"""

import pytest
from django.urls import reverse

from agents.models import Agent
from signoffs.models import Decision, Dimension
from tests.identity.test_step_up import PASSWORD, age_sign_in, decide_url
from tokens.models import ApiToken, Scope

pytestmark = pytest.mark.django_db


def step_up_and_return(client, asked) -> str:
    """Sign in again from the step-up page the refusal sent to; return the page it sends back to."""
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("step-up"))
    back = client.post(asked["Location"], {"password": PASSWORD})
    assert back.status_code == 302
    return back["Location"]


def test_a_stale_decision_comes_back_with_its_comment_and_ticks(
    client, workflow, agent, reviewers, settings, audit_since
):
    package = workflow.submit(agent)
    item = package.signoffs.get(dimension=Dimension.IAM).checklist.items.first()
    client.force_login(reviewers[Dimension.IAM][0])
    age_sign_in(client, settings.STEP_UP_SECONDS + 60)
    since = audit_since()

    asked = client.post(
        decide_url(package),
        {
            "iam-verdict": "request_changes",
            "iam-comment": "Narrow the <scope> to read-only.",
            f"iam-item_{item.code}": "on",
        },
    )
    back = step_up_and_return(client, asked)

    assert back == f"{package.get_absolute_url()}#decide-iam"
    page = client.get(back)
    form = page.context["my_forms"][0]["form"]
    assert not form.is_bound
    assert form[f"item_{item.code}"].value() is True
    assert form["comment"].value() == "Narrow the <scope> to read-only."
    assert form["verdict"].value() is None
    assert "Narrow the &lt;scope&gt; to read-only.</textarea>" in page.content.decode()
    assert not Decision.objects.exists()
    assert [event.action for event in since()] == []
    # Given back once: the next visit shows an empty form.
    again = client.get(back).context["my_forms"][0]["form"]
    assert again["comment"].value() is None


def test_a_stale_suspension_comes_back_with_its_reason(
    client, workflow, agent, reviewers, settings, audit_since
):
    workflow.approve(agent)
    client.force_login(reviewers[Dimension.SECURITY][0])
    age_sign_in(client, settings.STEP_UP_SECONDS + 60)
    since = audit_since()
    url = reverse("agent-suspend", args=[agent.slug])

    asked = client.post(url, {"reason": "Leaking customer data.", "step": "confirm"})
    back = step_up_and_return(client, asked)

    assert back == url
    page = client.get(back)
    assert page.context["form"]["reason"].value() == "Leaking customer data."
    assert not page.context["confirming"]
    assert Agent.objects.get(pk=agent.pk).suspended_at is None
    assert [event.action for event in since()] == []


def test_a_stale_token_creation_comes_back_with_its_name_scopes_and_days(
    client, owner, agent, settings, audit_since
):
    client.force_login(owner)
    age_sign_in(client, settings.STEP_UP_SECONDS + 60)
    since = audit_since()
    url = reverse("token-list")

    asked = client.post(
        url,
        {
            "name": "GitHub Actions",
            "scopes": [Scope.GATE_CHECK, Scope.AGENTS_READ],
            "agents": agent.slug,
            "days": 30,
        },
    )
    back = step_up_and_return(client, asked)

    assert back == url
    form = client.get(back).context["form"]
    assert form["name"].value() == "GitHub Actions"
    assert form["scopes"].value() == [Scope.GATE_CHECK, Scope.AGENTS_READ]
    assert form["agents"].value() == agent.slug
    assert form["days"].value() == "30"
    assert not ApiToken.objects.exists()
    assert [event.action for event in since()] == []


def test_what_was_typed_for_one_page_is_not_given_to_another(client, owner, agent, settings):
    client.force_login(owner)
    age_sign_in(client, settings.STEP_UP_SECONDS + 60)
    client.post(reverse("token-list"), {"name": "GitHub Actions", "days": 30})

    assert client.get(reverse("dashboard")).status_code == 200
    assert client.get(reverse("token-list")).context["form"]["name"].value() == "GitHub Actions"
