"""The pages that only show things answer GET and HEAD, and 405 to any other method."""

import pytest
from django.urls import reverse

from audit.actors import Actor
from audit.verification import verification_request

pytestmark = pytest.mark.django_db


def test_read_only_pages_refuse_a_post(client, workflow, agent, staff):
    package = workflow.approve(agent)
    run, _ = verification_request(actor=Actor.for_user(staff))
    urls = [
        reverse("dashboard"),
        reverse("agent-list"),
        reverse("package-list"),
        reverse("agent-detail", args=[agent.slug]),
        reverse("package-detail", args=[agent.slug, package.version]),
        reverse("audit-log"),
        reverse("audit-verification", args=[run.pk]),
        reverse("staff-users"),
        reverse("staff-left-behind"),
    ]
    client.force_login(staff)
    for url in urls:
        assert client.get(url).status_code == 200, url
        assert client.head(url).status_code == 200, url
        for method in (client.post, client.put, client.delete):
            assert method(url).status_code == 405, (method.__name__, url)
