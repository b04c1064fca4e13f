"""Code compares with an enum's values, and passes them on, through the enum's members.

A value written as a literal (`state="approved"`, `type == "system"`) would
silently stop matching if the member's value changed, and hides where a
vocabulary is used. Error codes (`code=`), argument parsers' destinations
(`dest=`) and filter field names (`field_name=`) are vocabularies of their own
that happen to share some words.
"""

import ast
import importlib
import re
from pathlib import Path

from django.db import models

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["agents", "api", "approvals", "audit", "config", "identity", "outbox", "runtime"]
PRODUCT += ["signoffs", "tokens", "web"]
OTHER_VOCABULARIES = {"code", "dest", "field_name"}


def _sources():
    for app in PRODUCT:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ast.parse(path.read_text())


def _enum_values() -> dict[str, str]:
    """Return {value: enum name} of every TextChoices the product defines."""
    values = {}
    for path, tree in _sources():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in tree.body:
            bases = [ast.unparse(base).split(".")[-1] for base in getattr(node, "bases", [])]
            if "TextChoices" in bases:
                enum = getattr(importlib.import_module(module), node.name)
                assert issubclass(enum, models.TextChoices)
                values.update((value, node.name) for value in enum.values)
    return values


def _literals(node) -> list:
    """Return the string literals a comparison compares with, or a call passes by keyword."""
    if isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        operands += [
            e for o in operands if isinstance(o, ast.Tuple | ast.List | ast.Set) for e in o.elts
        ]
        return [o for o in operands if isinstance(o, ast.Constant)]
    if isinstance(node, ast.Call):
        return [
            k.value
            for k in node.keywords
            if isinstance(k.value, ast.Constant) and k.arg not in OTHER_VOCABULARIES
        ]
    return []


def test_no_module_compares_with_or_passes_an_enum_value_as_a_literal():
    values = _enum_values()
    assert {"approved", "system", "oidc", "pending", "none"} <= set(values)
    found = [
        f"{path.relative_to(ROOT)}:{literal.lineno} {literal.value!r} ({values[literal.value]})"
        for path, tree in _sources()
        for node in ast.walk(tree)
        for literal in _literals(node)
        if literal.value in values
    ]
    assert not found


def test_no_template_compares_with_an_enum_value():
    values = _enum_values()
    found = [
        f"{path.relative_to(ROOT)}: {value}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for value in re.findall(r"==\s*['\"]([a-z_]+)['\"]", path.read_text())
        if value in values
    ]
    assert not found
