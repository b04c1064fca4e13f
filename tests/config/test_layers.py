"""The apps' layers as the README and the design page draw them are the code's.

Each page's tree lists the apps in their order and notes which apps each imports
("(imports audit, tokens)"; config and api, which every app may import, are left
out). The notes are held to the imports in the code, every one of them, at the
top of a module or inside a function; and every app imports only apps above it.
"""

import ast
import re

import pytest

from tests.config.test_docs import PRODUCT, ROOT

BASE = {"config", "api"}
TREES = {
    "README.md": "## How it works\n\n```\n",
    "docs/design.md": "## Architecture\n\n```\n",
}


def _imported_apps(app: str) -> set[str]:
    """Return the product apps any module of `app` imports, migrations left out."""
    found = set()
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return (found & set(PRODUCT)) - {app}


def _tree(page: str) -> dict[str, set[str]]:
    """Return the apps the page's tree lists, in its order, with the apps its notes name."""
    text = (ROOT / page).read_text(encoding="utf-8")
    block = text.split(TREES[page], 1)[1].split("```", 1)[0]
    entries = re.split(r"^(?=[\w-]+/ )", block, flags=re.M)
    tree = {}
    for entry in entries:
        name = entry.split("/", 1)[0]
        if name not in PRODUCT:
            continue
        note = re.search(r"\(imports ([^)]*)\)", " ".join(entry.split()))
        assert note, f"{page}: {name}/ has no (imports ...) note"
        named = note.group(1)
        tree[name] = set() if named == "no app" else set(named.split(", "))
    return tree


@pytest.mark.parametrize("page", TREES)
def test_the_tree_lists_every_app_with_the_apps_it_imports(page):
    tree = _tree(page)
    assert set(tree) == set(PRODUCT)
    actual = {app: _imported_apps(app) - BASE for app in PRODUCT}
    assert tree == actual


@pytest.mark.parametrize("page", TREES)
def test_every_app_imports_only_apps_above_it(page):
    order = list(_tree(page))
    for position, app in enumerate(order):
        above = set(order[:position])
        below = _imported_apps(app) - above
        assert not below, f"{app} imports {sorted(below)}, listed below it in {page}"
