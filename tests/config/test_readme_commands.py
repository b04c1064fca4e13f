"""The README's manage.py commands work as written after `make run`.

`make run` (scripts/run.sh) sets up a scratch var/ directory and its development
.env, seeds the demo data and serves; then every `.venv/bin/python manage.py ...`
line of the README's shell blocks runs as written, with no variable exported
(only COUNTERSIGN_VAR_DIR and COUNTERSIGN_ENV_FILE point at the scratch copies).
A command named in the text of the README or docs/ exists. The README's shell
session (the workflow from `manage.py shell`) runs too, and so does its try-out
of the release gate on the demo data.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.browser import demo_site as make_run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [README] + [path.read_text(encoding="utf-8") for path in (ROOT / "docs").glob("*.md")]
# The placeholder of a token prefix: the test revokes the token it created instead.
EXAMPLE_PREFIX = "PREFIX"


def shell_commands(markdown: str) -> list[str]:
    """Return the `.venv/bin/python manage.py` lines of the ```sh blocks, continuations joined."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(".venv/bin/python manage.py "):
                commands.append(line)
    return commands


def named_commands() -> set[str]:
    """Return every manage.py command the README and docs/ name in their text."""
    names = set()
    for text in DOCS:
        names.update(re.findall(r"manage\.py ([a-z_]+)", text))
    return names


def shell_session(markdown: str) -> str:
    section = markdown.split("### Using the workflow from a shell", 1)[1]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """Return `make run`'s site, serving, on a scratch var/ directory."""
    site, stop = make_run.start("sqlite", tmp_path_factory.mktemp("make-run"))
    yield site
    stop()


@pytest.fixture(scope="module")
def after_make_run(demo_site):
    """Return the environment of a shell in the checkout after `make run` (still serving)."""
    env = {k: v for k, v in os.environ.items() if k not in make_run.TEST_ONLY_VARIABLES}
    env.update(
        COUNTERSIGN_VAR_DIR=str(demo_site.var_dir),
        COUNTERSIGN_ENV_FILE=str(demo_site.var_dir / ".env"),
    )
    return env


def run(command: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_the_readme_shows_commands_to_run():
    commands = shell_commands(README)
    assert any(line.startswith(".venv/bin/python manage.py token create") for line in commands)
    assert any(EXAMPLE_PREFIX in command for command in commands)


def test_every_readme_command_works_as_written(after_make_run):
    created_prefix = None
    for command in shell_commands(README):
        if EXAMPLE_PREFIX in command:
            assert created_prefix, "the README revokes a token before creating one"
            command = command.replace(EXAMPLE_PREFIX, created_prefix)
        result = run(command, after_make_run)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, command
        found = re.search(r"\bcs_[0-9a-f]{8}\b", result.stderr + result.stdout)
        if "token create" in command and found:
            created_prefix = found.group(0)
    assert created_prefix, "token create printed no prefix"


def test_every_command_the_docs_name_exists(after_make_run):
    names = named_commands()
    assert {"token", "audit", "team", "sync_schedule"} <= names
    for name in sorted(names):
        result = run(f".venv/bin/python manage.py help {name}", after_make_run)
        assert result.returncode == 0, f"manage.py {name}: {result.stderr}"


def test_the_readme_shell_session_works(after_make_run):
    session = shell_session(README)
    result = run(
        ".venv/bin/python manage.py shell --no-imports -c " + _quoted(session), after_make_run
    )
    assert result.returncode == 0, result.stderr
    check = run(
        ".venv/bin/python manage.py shell --no-imports -c "
        + _quoted(
            "from approvals.models import ApprovalPackage, PackageState\n"
            "print(ApprovalPackage.objects.filter(agent__slug='hr-policy-copilot',"
            " state=PackageState.IN_REVIEW).count())"
        ),
        after_make_run,
    )
    assert check.stdout.strip() == "1", check.stderr


def test_the_readme_gate_try_out_is_allowed_on_the_demo_data(after_make_run, demo_site, tmp_path):
    """The README's commands that check the demo's approved manifest end in an allow.

    Run as written but for the address (the test's port) and where the manifest
    is written (the test's directory, not the checkout).
    """
    section = README.split("### Trying the gate on `make run`", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)
    block = block.replace("http://127.0.0.1:8000", demo_site.url)
    block = block.replace("agent.json", str(tmp_path / "agent.json"))
    result = run("set -euo pipefail\n" + block, after_make_run)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "ALLOW: agent support-assistant package v1" in result.stdout


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
