"""Every time of day a page shows says its zone: UTC, the zone everything is stored and
compared in, so a reader elsewhere does not take it for their own clock."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from approvals.services import agent_suspend
from audit.actors import Actor

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# A time of day rendered by the date filter, and what may follow it before its zone.
TIME_OF_DAY = re.compile(r'\|date:"[^"]*H:i[^"]*" ?\}\}((?:</time>)?\s*)(UTC)?')
# Pages whose times sit in a column headed "Time (UTC)".
UNDER_A_UTC_HEADING = {"audit/_events.html"}


def test_every_time_of_day_a_template_shows_is_labelled_utc():
    unlabelled = [
        f"{path.relative_to(TEMPLATES)}: …{match.group(0)}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        if str(path.relative_to(TEMPLATES)) not in UNDER_A_UTC_HEADING
        for match in TIME_OF_DAY.finditer(path.read_text())
        if match.group(2) is None
    ]
    assert unlabelled == []


@pytest.mark.django_db
def test_the_agent_and_package_pages_label_their_times_utc(client, workflow, agent, staff):
    package = workflow.approve(agent)
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Leaking data.")
    client.force_login(workflow.owner)
    page = client.get(agent.get_absolute_url()).content.decode()
    suspended_at = type(agent).objects.get(pk=agent.pk).suspended_at
    assert f"Suspended {suspended_at:%Y-%m-%d %H:%M} UTC." in page
    page = client.get(package.get_absolute_url()).content.decode()
    assert f"Created {package.created_at:%Y-%m-%d %H:%M} UTC by" in page


@pytest.mark.django_db
def test_an_expiry_is_shown_to_the_minute_in_utc(client, workflow, agent, make_token):
    """The gate denies from the expiry's instant, and the token is refused from its own: a
    date alone leaves a reader to guess whether the day it names is still theirs."""
    package = workflow.approve(agent)
    token, _ = make_token(workflow.owner, name="pipeline")
    client.force_login(workflow.owner)
    expires = f"{package.expires_at:%Y-%m-%d %H:%M}</time> UTC"
    review = client.get(package.get_absolute_url()).content.decode()
    assert "; expires <time datetime=" in review and expires in review
    assert expires in client.get(agent.get_absolute_url()).content.decode()
    tokens = client.get(reverse("token-list")).content.decode()
    assert f"{token.expires_at:%Y-%m-%d %H:%M}</time> UTC" in tokens
