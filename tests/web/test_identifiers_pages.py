"""The pages refuse control and format characters in identifiers, by field, and show the
text people typed escaped."""

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from agents.models import Agent
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
APPS = ("config", "api", "audit", "tokens", "outbox", "agents", "signoffs", "approvals", "web")


def registration(**changes) -> dict:
    return {
        "slug": "refund-bot",
        "name": "Refund bot",
        "workload_id": "spiffe://prod.example.com/ns/care/sa/refund-bot",
        "log_principal": "agent:refund-bot",
        "deployment": "customer_facing",
        **changes,
    }


# (The team is a choice of the user's teams on the page: no text to refuse.)
@pytest.mark.parametrize(("field", "value"), [("log_principal", "agent\u202egol")])
def test_registering_refuses_them_beside_the_field(client, owner, field, value):
    client.force_login(owner)
    response = client.post(reverse("agent-new"), registration(**{field: value}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert "control or format characters" in errors[field][0]
    assert not Agent.objects.filter(slug="refund-bot").exists()


def test_editing_refuses_them_in_an_owners_username(client, owner, agent):
    client.force_login(owner)
    response = client.post(
        reverse("agent-edit", args=[agent.slug]),
        {"name": agent.name, "team": agent.team.slug, "owners": "owner, ow\x07ner"},
    )
    assert response.status_code == 200
    assert "U+0007" in response.context["form"].errors["owners"][0]
    assert [user.username for user in agent.owners.all()] == ["owner"]


def test_the_text_people_typed_is_shown_escaped(client, owner):
    agent = AgentFactory(
        slug="shown",
        name="<img src=x onerror=alert(1)>",
        description="<script>alert(2)</script> \u202eright-to-left",
        owners=[owner],
    )
    client.force_login(owner)
    html = client.get(agent.get_absolute_url()).content.decode()
    assert "<script>alert(2)</script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt; \u202eright-to-left" in html


def test_nothing_renders_text_unescaped():
    templates = list((ROOT / "templates").rglob("*.html"))
    code = [path for app in APPS for path in (ROOT / app).rglob("*.py")]
    assert templates and code
    unsafe = [
        str(path.relative_to(ROOT))
        for path in templates + code
        for marker in ("|safe", "autoescape off", "mark_safe(", "SafeString(")
        if marker in path.read_text()
    ]
    assert unsafe == []
