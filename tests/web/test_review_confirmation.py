"""Approving a sign-off takes a confirmation step that names what is approved."""

import pytest
from django.urls import reverse

from signoffs.models import Decision, Dimension, SignOffState

pytestmark = pytest.mark.django_db


def decide_url(package, dimension):
    return reverse("package-decide", args=[package.agent.slug, package.version, dimension])


def test_approve_asks_for_a_confirmation_naming_what_is_approved(
    client, workflow, agent, reviewers
):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.IAM][0])
    codes = list(workflow.answers(package, Dimension.IAM))
    data = {"iam-verdict": "approve", "iam-comment": "Scopes are least privilege."}
    data.update({f"iam-item_{code}": "on" for code in codes[:-1]})
    response = client.post(decide_url(package, Dimension.IAM), data)
    assert response.status_code == 200
    assert not Decision.objects.filter(signoff__package=package).exists()
    html = response.content.decode()
    assert 'data-testid="confirm-iam"' in html and "autofocus" in html
    assert f"Approve the IAM sign-off of {agent.name} ({agent.slug}) v{package.version}?" in html
    assert f"Confirm: approve IAM for {agent.slug} v{package.version}" in html
    assert f'Not ticked: <span class="code">{codes[-1]}</span>' in html
    # The step posts the same answers back with the confirmation.
    confirmation = response.context["confirm"]["hidden"]
    assert ("iam-confirmed", "1") in confirmation
    assert ("iam-comment", "Scopes are least privilege.") in confirmation
    ticked = {name for name, value in confirmation if value == "on"}
    assert ticked == {f"iam-item_{code}" for code in codes[:-1]}


def test_the_confirmed_approval_is_recorded(client, workflow, agent, reviewers):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.IAM][0])
    data = {"iam-verdict": "approve", "iam-comment": "Checked."}
    data.update({f"iam-item_{code}": "on" for code in workflow.answers(package, Dimension.IAM)})
    first = client.post(decide_url(package, Dimension.IAM), data)
    again = dict(first.context["confirm"]["hidden"])
    assert client.post(decide_url(package, Dimension.IAM), again).status_code == 302
    decision = Decision.objects.get(signoff__package=package)
    assert decision.verdict == "approve" and decision.comment == "Checked."


def test_enter_in_the_decision_form_presses_a_button_that_decides_nothing(
    client, workflow, agent, reviewers
):
    """Implicit submission presses the form's first submit button, which has no verdict."""
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.IAM][0])
    url = reverse("package-detail", args=[agent.slug, package.version])
    html = client.get(url).content.decode()
    form = html.split(f'action="{decide_url(package, Dimension.IAM)}"', 1)[1]
    first_button = form.split("<button", 2)[1]
    assert first_button.startswith(' type="submit" name="iam-verdict" value="" hidden')
    data = {"iam-verdict": "", "iam-comment": ""}
    data.update({f"iam-item_{code}": "on" for code in workflow.answers(package, Dimension.IAM)})
    response = client.post(decide_url(package, Dimension.IAM), data)
    assert response.status_code == 400
    assert 'data-testid="verdict-missing"' in response.content.decode()
    assert not Decision.objects.filter(signoff__package=package).exists()
    cards = {card["signoff"].dimension: card for card in response.context["cards"]}
    kept = cards[Dimension.IAM]["form"]
    assert all(kept[f"item_{code}"].value() for code in workflow.answers(package, Dimension.IAM))


def test_request_changes_needs_no_confirmation(client, workflow, agent, reviewers):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.IAM][0])
    data = {"iam-verdict": "request_changes", "iam-comment": "Narrow the scopes."}
    assert client.post(decide_url(package, Dimension.IAM), data).status_code == 302
    signoff = package.signoffs.get(dimension=Dimension.IAM)
    assert signoff.state != SignOffState.PENDING
