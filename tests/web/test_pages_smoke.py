"""Every page renders for the people who use it."""

import pytest
from django.urls import reverse

from signoffs.models import Dimension

pytestmark = pytest.mark.django_db


def test_every_page_renders(client, workflow, agent, owner, reviewers):
    package = workflow.approve(agent)
    draft = workflow.create(agent)
    urls = [
        reverse("dashboard"),
        reverse("agent-list"),
        reverse("agent-new"),
        reverse("agent-detail", args=[agent.slug]),
        reverse("agent-edit", args=[agent.slug]),
        reverse("package-new", args=[agent.slug]),
        reverse("package-detail", args=[agent.slug, package.version]),
        reverse("package-edit", args=[agent.slug, draft.version]),
        reverse("audit-log"),
    ]
    client.force_login(owner)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
    client.force_login(reviewers[Dimension.SECURITY][0])
    response = client.get(reverse("agent-suspend", args=[agent.slug]))
    assert response.status_code == 200
