"""A NUL in a search or filter is a field error wherever it is typed: the pages name the field
and show the list without it (never a 500, never a search that matched nothing), and the API
answers 400 naming the parameter. Django's CharField refuses NUL; these hold every page and
endpoint to showing that refusal."""

import pytest
from django import forms
from django.urls import resolve, reverse

from tests.web.dom import parse
from tests.web.test_url_sweep import _patterns

pytestmark = pytest.mark.django_db

NUL = "support\x00x"
REFUSED = ("Null characters are not allowed.", "Must not contain control or format characters")

# Every page's search or text filter: (URL name, parameter, its label, what the list shows).
PAGES = [
    ("token-list", "q", "Search", "support-assistant"),
    ("agent-list", "q", "Search", "support-assistant"),
    ("agent-list", "team", "Team slug", "support-assistant"),
    ("package-list", "agent", "Agent", "support-assistant"),
    ("package-list", "team", "Team", "support-assistant"),
    ("package-list", "owner", "Owner", "support-assistant"),
    ("audit-log", "agent", "Agent slug", "package.submitted"),
    ("audit-log", "actor", "Actor", "package.submitted"),
    ("audit-log", "action", "Action", "package.submitted"),
    ("staff-users", "q", "Username contains", "owner"),
]
# Every API list's text filter, and the audit exports reading the audit list's filters.
API = [
    ("/api/v1/agents", "q"),
    ("/api/v1/agents", "team"),
    ("/api/v1/packages", "agent"),
    ("/api/v1/packages", "team"),
    ("/api/v1/packages", "owner"),
    ("/api/v1/audit/events", "agent"),
    ("/api/v1/audit/events", "actor"),
    ("/api/v1/audit/events", "action"),
    ("/api/v1/audit/export.csv", "actor"),
    ("/api/v1/audit/export.jsonl", "action"),
    ("/api/v1/agents/support-assistant/packages/1/comments", "entry_identifier"),
    ("/api/v1/agents/support-assistant/findings", "status"),
]


@pytest.fixture
def seen(client, staff, workflow, agent):
    workflow.submit(agent)
    client.force_login(staff)
    return client


def refusal_named(text: str, label: str) -> bool:
    return label in text and any(message in text for message in REFUSED)


# The pages whose list a search replaces in place (htmx): the answer names the filter too.
REPLACED = {"token-list", "agent-list", "package-list", "audit-log"}


@pytest.mark.parametrize(("name", "parameter", "label", "listed"), PAGES)
def test_a_page_names_the_filter_beside_it_and_lists_without_it(
    seen, name, parameter, label, listed
):
    response = seen.get(reverse(name), {parameter: NUL})

    assert response.status_code in (200, 400)
    shown = parse(response.content)
    (field,) = shown.find("form", role="search").find_all(aria_invalid="true")
    assert field.attrs["name"] == parameter
    if name != "token-list":  # its search's refusal is said over the matches, as below
        (box,) = shown.find("form", role="search").find_all(class_="has-error")
        assert refusal_named(box.text(), label)
    assert listed in shown.text()


@pytest.mark.parametrize(
    ("name", "parameter", "label", "listed"), [page for page in PAGES if page[0] in REPLACED]
)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_list_says_it_ignored_the_filter(seen, name, parameter, label, listed, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    response = seen.get(reverse(name), {parameter: NUL}, headers=headers)

    assert response.status_code == 200  # htmx swaps in only a 2xx answer
    shown = parse(response.content)
    (alert,) = [node for node in shown.find_all(role="alert") if "ignored" in node.text()]
    assert refusal_named(alert.text(), label)
    assert listed in shown.text()


@pytest.mark.parametrize(("path", "parameter"), API)
def test_the_api_answers_400_naming_the_parameter(seen, path, parameter):
    response = seen.get(path, {parameter: NUL})

    assert response.status_code == 400
    error = response.json()["error"]
    assert list(error["fields"]) == [parameter]


def test_every_api_text_filter_is_tried():
    """Each text filter of every API view with a FilterSet is in API."""
    tried = {(resolve(path).func.cls, parameter) for path, parameter in API}
    filters = {
        (view, parameter)
        for _, pattern in _patterns()
        if (view := getattr(pattern.callback, "cls", None)) is not None
        and getattr(view, "filterset_class", None) is not None
        for parameter, flt in view.filterset_class.base_filters.items()
        if issubclass(flt.field_class, forms.CharField)
    }
    assert filters
    assert filters - tried == set()
