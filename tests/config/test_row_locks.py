"""Every row lock the product takes leaves foreign-key checks free (approvals.locks)."""

import ast

from config.environment import BASE_DIR
from tests.config.test_migrations import PROJECT_APPS

# A FOR UPDATE lock is meant where its row is deleted under it; the line says so.
DELETES = "FOR UPDATE, not NO KEY"


def _lock_calls():
    for app in sorted(PROJECT_APPS | {"config"}):
        for path in (BASE_DIR / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            source = path.read_text()
            lines = source.splitlines()
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == (
                    "select_for_update"
                ):
                    keywords = {k.arg: k.value for k in node.keywords}
                    yield path.relative_to(BASE_DIR), node.lineno, keywords, lines


def test_row_locks_change_no_key_unless_the_row_is_deleted():
    calls = list(_lock_calls())
    assert len(calls) > 20  # the walk reaches the services
    wrong = []
    for path, line, keywords, lines in calls:
        if "skip_locked" in keywords:  # a queue's claim: nothing waits for it
            continue
        no_key = keywords.get("no_key")
        if isinstance(no_key, ast.Constant) and no_key.value is True:
            continue
        if any(DELETES in text for text in lines[max(0, line - 4) : line]):
            continue
        wrong.append(f"{path}:{line}")
    assert not wrong, wrong
