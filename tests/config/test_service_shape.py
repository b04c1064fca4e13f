"""Whoever changes state is named by keyword: a public function takes `actor` keyword-only."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["agents", "api", "approvals", "audit", "config", "identity", "outbox", "runtime"]
PRODUCT += ["signoffs", "tokens", "web"]


def test_every_public_function_takes_its_actor_by_keyword():
    positional = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
        for app in PRODUCT
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef)
        and not node.name.startswith("_")
        and "actor" in {a.arg for a in [*node.args.posonlyargs, *node.args.args]}
    ]
    assert not positional
