"""The Content-Security-Policy: sent with every page, and no template needs an exception to it."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
STATIC = Path(__file__).resolve().parents[2] / "static"
# The evidence summary is a file inside a downloaded bundle, read offline, never served.
OFFLINE = {TEMPLATES / "evidence" / "summary.html"}
INLINE = {
    "inline script": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "event handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE),
}


def policy(response) -> dict[str, list[str]]:
    directives = response["Content-Security-Policy"].split(";")
    return {name: values for name, *values in (d.split() for d in directives if d.strip())}


def assert_strict(response):
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert not [d for d, values in directives.items() if "'unsafe-inline'" in values]


def test_pages_send_the_policy(client, owner, settings):
    settings.DEBUG = False
    assert_strict(client.get(reverse("login")))
    client.force_login(owner)
    assert_strict(client.get(reverse("dashboard")))
    assert_strict(client.get("/no-such-page/"))


def test_json_answers_go_without_it(client, owner, agent):
    """The API answers only JSON, which no browser renders as a document."""
    client.force_login(owner)
    url = f"/api/v1/agents/{agent.slug}"
    answer = client.get(url)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    assert "Content-Security-Policy" not in answer
    assert client.get(url, HTTP_ACCEPT="text/html").status_code == 406


def test_the_lockout_page_sends_the_policy(client, owner, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    assert response.status_code == 429
    assert_strict(response)


def test_no_served_template_has_inline_script_or_style():
    found = [
        f"{path.relative_to(TEMPLATES)}: {kind}: {match.group(0)[:80]}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        if path not in OFFLINE
        for kind, pattern in INLINE.items()
        for match in pattern.finditer(path.read_text())
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<button onclick="go()">',
        "<style>p{}</style>",
        '<p class="x" style="color:red">',
    ],
)
def test_the_template_scan_finds_each_kind(html):
    assert any(pattern.search(html) for pattern in INLINE.values())


def test_the_api_docs_page_sends_the_policy_and_is_never_framed(client, settings):
    settings.DEBUG = False
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert_strict(response)
    assert response["X-Frame-Options"] == "DENY"


def test_no_static_file_is_an_html_document():
    """Static files are served before the policy's middleware: a document among them would
    go without it. The API docs page is a template for that reason."""
    documents = [p for p in STATIC.rglob("*") if p.suffix.lower() in (".html", ".htm", ".xhtml")]
    assert not documents


def test_the_api_docs_draw_their_icons_from_files_the_policy_allows():
    """Swagger UI's CSS draws icons from data: URIs (img-src 'self' refuses them); docs.css
    points each of its rules that can apply at a file of static/docs/icons/ instead."""
    vendored = (STATIC / "docs" / "swagger-ui.css").read_text()
    ours = (STATIC / "docs" / "docs.css").read_text()
    selectors = {
        selector.strip()
        for selector in re.findall(r'([^{}]+)\{[^{}]*url\("?data:', vendored)
        if "dark-mode" not in selector and "debug-grid" not in selector
    }
    assert ".swagger-ui .model-toggle:after" in selectors
    assert not [s for s in selectors if s not in ours]
    for icon in re.findall(r'url\("(icons/[^"]+)"\)', ours):
        assert (STATIC / "docs" / icon).is_file(), icon
    assert not re.search(r'url\("?data:', ours)
