"""The approved package's page offers its Cedar policy bundle; other versions do not."""

import json

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_an_approved_version_links_its_policy_bundle(client, workflow, agent, owner):
    package = workflow.approve(agent)
    client.force_login(owner)
    html = client.get(reverse("package-detail", args=[agent.slug, package.version])).content
    html = html.decode()
    assert 'data-testid="runtime-policy"' in html
    link = f"/api/v1/agents/{agent.slug}/policy?download=1"
    assert f'href="{link}"' in html
    download = client.get(link)
    assert download.status_code == 200
    assert json.loads(download.content)["digest"] == package.digest


def test_a_version_in_review_does_not(client, workflow, agent, owner):
    package = workflow.submit(agent)
    client.force_login(owner)
    html = client.get(reverse("package-detail", args=[agent.slug, package.version])).content
    assert b'data-testid="runtime-policy"' not in html
