"""What every page shares: the flash messages' live region and the favicon."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_flash_messages_are_a_list_inside_a_live_region(client, owner, agent):
    client.force_login(owner)
    data = {"name": "Renamed", "team": agent.team.slug, "description": "", "owners": "owner"}
    response = client.post(reverse("agent-edit", args=[agent.slug]), data, follow=True)
    html = response.content.decode()
    assert re.search(r'<div class="flash" role="status">\s*<ul class="messages">', html)
    assert '<li class="msg success">Agent updated.</li>' in html
    assert not re.search(r"<ul[^>]*role=", html)


def test_every_page_links_the_favicon_which_is_an_svg_of_our_own(client, owner):
    client.force_login(owner)
    html = client.get(reverse("dashboard")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    with open(finders.find("favicon.svg"), encoding="utf-8") as svg_file:
        svg = svg_file.read()
    assert svg.startswith("<svg") and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
