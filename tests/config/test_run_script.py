"""`make run` (scripts/run.sh) stops at the first setup step that fails, showing its log."""

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.browser import demo_site as make_run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# migrate, sync_schedule and load_checklists on SQLite, then the failing step.
SETUP_SECONDS = 180


def test_a_failing_setup_step_stops_make_run(tmp_path):
    """collectstatic cannot write its directory: setup fails, though seed_demo would pass."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    (var_dir / "staticfiles").write_text("a file where collectstatic wants its directory")
    env = {k: v for k, v in os.environ.items() if k not in make_run.TEST_ONLY_VARIABLES}
    env.update(COUNTERSIGN_VAR_DIR=str(var_dir), COUNTERSIGN_ENV_FILE=str(tmp_path / ".env"))
    process = subprocess.Popen(
        [*make_run.RUN_COMMAND, str(make_run.free_port())],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=SETUP_SECONDS)
    except subprocess.TimeoutExpired:
        # Still running: setup went on past the failure and serves. Ctrl-C, as make run
        # says to stop it (its worker and server share the session).
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        pytest.fail(f"make run went on after a failed setup step:\n{output}")
    assert process.returncode == 1, output
    assert "Setup failed; the whole log is" in output
    assert str(var_dir / "staticfiles") in output, output  # the log's tail shows why
    log = (var_dir / "log" / "setup.log").read_text()
    assert "checklist version(s) loaded" in log, log  # the steps before it ran
    assert "Demo data ready" not in log, log  # the step after it did not
