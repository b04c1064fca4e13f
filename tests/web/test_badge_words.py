"""A badge reads as a label, capitalised like every other: the words written into the
templates as much as the vocabularies' labels (`web.vocabulary`)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from guardian.shortcuts import assign_perm

from agents.membership import Source, user_flags_set
from audit.actors import Actor
from tests.web.dom import parse
from tests.web.test_left_behind import _leave

# A badge's opening tag and the text written right after it, up to a tag or a variable.
BADGE_TEXT = re.compile(r'<span class="badge[^"]*"[^>]*>([^<{]*)')


def badge_texts(node) -> list[str]:
    return [badge.text() for badge in node.find_all("span", class_="badge")]


def test_no_template_writes_a_badge_in_lower_case():
    lower = [
        f"{path.relative_to(settings.BASE_DIR)}: {text.strip()}"
        for path in Path(settings.BASE_DIR, "templates").rglob("*.html")
        for text in BADGE_TEXT.findall(path.read_text())
        if text.strip()[:1].islower()
    ]
    assert lower == []


@pytest.mark.django_db
def test_the_reviewers_page_badges_a_deactivated_reviewer_and_a_reassigned_sign_off(
    client, workflow, agent, reviewers, staff
):
    pam1 = reviewers["pam"][0]
    assign_perm("agents.review_pam", pam1, agent)
    package = workflow.submit(agent)
    _leave(staff, agent, package, reviewers)
    user_flags_set(pam1, actor=Actor.for_user(staff), source=Source.PAGE, is_active=False)
    client.force_login(staff)

    page = parse(client.get(reverse("agent-reviewers", args=[agent.slug])).content)

    assigned = page.find("section", aria_labelledby="assigned-title")
    assert "Deactivated" in badge_texts(assigned)
    pending = page.find_all("tr", data_testid="pending-signoff")
    assert ["Reassigned"] in [badge_texts(row) for row in pending]


@pytest.mark.django_db
def test_the_left_behind_page_badges_a_reassigned_sign_off(
    client, workflow, agent, reviewers, staff
):
    package = workflow.submit(agent)
    _leave(staff, agent, package, reviewers)
    client.force_login(staff)

    page = parse(client.get(reverse("staff-left-behind")).content)

    rows = page.find_all("tr", data_testid="left-behind-signoff")
    assert ["Reassigned"] in [badge_texts(row) for row in rows]


@pytest.mark.django_db
def test_the_owner_home_badges_a_recertification_draft(client, workflow, agent, owner):
    workflow.create(agent, is_recertification=True)
    client.force_login(owner)

    page = parse(client.get(reverse("dashboard")).content)

    draft = page.find("li", data_testid=f"draft-{agent.slug}")
    assert badge_texts(draft) == ["Re-certification"]
