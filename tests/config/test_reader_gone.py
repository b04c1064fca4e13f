"""A command whose reader goes away (`| head`, `| grep -m1`) stops quietly, exit status 141.

141 is 128 + SIGPIPE, what a shell shows for a Unix tool that the signal stopped: a
pipeline under `set -o pipefail` still sees that the output was cut short. manage.py
handles it for every command; each standalone tool in tools/ does the same. Each
command runs in a process of its own with its standard output a pipe that the test
closes, after one line or before any.
"""

import importlib.machinery
import importlib.util
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection, transaction

from audit.actors import Actor
from audit.services import audit_record
from tests.tools.test_countersign_gate import ALLOW, CREATED, TOKEN, FakeServer, change

ROOT = Path(__file__).resolve().parents[2]
READER_GONE = 141
# Far more than a pipe and the reader's buffer hold, so the writer is still writing when the
# reader goes: Linux's pipes hold 64 KiB unless raised, 1 MiB at most.
PADDING = 8 * 1024
EVENTS = 300


def reader_gone(command: list[str], env: dict[str, str], lines: int) -> tuple[int, str]:
    """Run `command`, read `lines` lines of its output, close it; return its status and stderr."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    for _ in range(lines):
        assert process.stdout.readline()
    process.stdout.close()
    error = process.stderr.read().decode()
    process.stderr.close()
    return process.wait(timeout=120), error


def assert_quiet(status: int, error: str) -> None:
    for noise in ("Traceback", "BrokenPipeError", "Broken pipe", "Exception ignored", "error"):
        assert noise not in error, error
    assert status == READER_GONE, error


def manage_env() -> dict[str, str]:
    """Return the test's environment with manage.py pointed at the test's database."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    url = f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return {**os.environ, "DATABASE_URL": f"{url}/{db['NAME']}"}


@pytest.fixture
def long_trail(transactional_db):
    """Commit an audit trail whose export is over 2 MiB, where a subprocess reads it."""
    with transaction.atomic():
        for i in range(EVENTS):
            audit_record(
                actor=Actor.system("tests"),
                action="test.event",
                data={"i": i, "pad": "x" * PADDING},
            )


def test_an_export_piped_into_head_stops_quietly(long_trail):
    command = [sys.executable, "manage.py", "audit", "export", "--format", "jsonl"]

    status, error = reader_gone(command, manage_env(), lines=1)

    assert_quiet(status, error)


@pytest.mark.parametrize(
    "arguments",
    [
        ["audit", "verify", "--workers", "1"],
        ["token", "list"],
        ["schedule_status"],
        ["help"],
    ],
)
def test_a_command_whose_reader_is_gone_before_it_writes_stops_quietly(
    arguments, long_trail, make_token, owner
):
    make_token(owner)
    command = [sys.executable, "manage.py", *arguments]

    status, error = reader_gone(command, manage_env(), lines=0)

    for noise in ("Traceback", "BrokenPipeError", "Broken pipe", "Exception ignored"):
        assert noise not in error, error
    assert status == READER_GONE, error


# A socket whose peer is gone: writing to it raises BrokenPipeError, standard output intact.
SOCKET_BREAKS = "import socket; a, b = socket.socketpair(); b.close(); a.sendall(b'x')"


def test_a_broken_socket_is_an_ordinary_failure_with_its_traceback():
    """Only standard output's reader gone is the quiet 141: a BrokenPipeError of anything
    else is a failure, with its traceback to say where."""
    command = [sys.executable, "manage.py", "shell", "-c", SOCKET_BREAKS]

    finished = subprocess.run(
        command, cwd=ROOT, env=manage_env(), capture_output=True, text=True, timeout=120
    )

    assert finished.returncode == 1, finished.stderr
    assert "Traceback" in finished.stderr and "BrokenPipeError" in finished.stderr


def tool(name: str):
    """Return the module of a standalone tool (or of manage.py), loaded from its file."""
    path = ROOT / name if name == "manage.py" else ROOT / "tools" / name
    loader = importlib.machinery.SourceFileLoader(
        name.replace("-", "_").replace(".", "_"), str(path)
    )
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def stdout_on(monkeypatch):
    """Return a function pointing sys.stdout at a descriptor (closed after the test)."""
    opened = []

    def point(fd: int):
        stream = os.fdopen(fd, "w")
        opened.append(stream)
        monkeypatch.setattr(sys, "stdout", stream)

    yield point
    for stream in opened:
        try:
            stream.close()
        except BrokenPipeError:
            pass


TOOLS = ["manage.py", "countersign-gate", "verify-evidence", "verify-policy"]


@pytest.mark.parametrize("name", TOOLS)
def test_output_is_gone_only_when_its_reader_is(name, stdout_on):
    """A pipe or a socket whose reader closed is gone; one still read, a file, or no
    standard output at all is not, whatever broke."""
    output_gone = tool(name).output_gone
    read, write = os.pipe()
    stdout_on(write)
    assert not output_gone()
    os.close(read)
    assert output_gone()
    ours, theirs = socket.socketpair()
    stdout_on(os.dup(ours.fileno()))
    assert not output_gone()
    theirs.close()
    assert output_gone()
    ours.close()
    stdout_on(os.open(os.devnull, os.O_WRONLY))
    assert not output_gone()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", None)
        assert not output_gone()


def verifier_arguments(tool: str, where: Path) -> list[str]:
    """Return arguments on which a verifier prints its verdict: a bundle that fails."""
    if tool == "verify-evidence":
        with zipfile.ZipFile(where / "bundle.zip", "w") as bundle:
            bundle.writestr("events.jsonl", "")
        return [str(where / "bundle.zip"), "--fingerprint", "0" * 64]
    key = Ed25519PrivateKey.generate().public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (where / "key.pem").write_bytes(pem)
    (where / "bundle.json").write_text("{}")
    (where / "bundle.json.sig").write_text("")
    bundle, signature = where / "bundle.json", where / "bundle.json.sig"
    return [
        str(bundle),
        str(signature),
        "--public-key",
        str(where / "key.pem"),
        "--fingerprint",
        "0" * 64,
    ]


@pytest.mark.parametrize("tool", ["verify-evidence", "verify-policy"])
def test_a_verifier_whose_reader_is_gone_stops_quietly(tool, tmp_path):
    command = [sys.executable, f"tools/{tool}", *verifier_arguments(tool, tmp_path)]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 1 and "FAIL" in finished.stdout, finished.stderr

    status, error = reader_gone(command, dict(os.environ), lines=0)

    assert_quiet(status, error)


def test_a_long_submit_piped_into_head_stops_quietly(tmp_path):
    """countersign-gate's own refusal of anything unexpected (exit 2) is not for this."""
    # About 2 MiB of lines, far more than a pipe holds (see PADDING).
    names = [f"tool-{n:05}-{'x' * 80}" for n in range(20_000)]
    added = [
        change("tool", name, "entry", "added", None, {}, "expansion", f"tool {name}: added")
        for name in names
    ]
    created = {**CREATED, "diff": {"expansions": added, "is_expansion": True}}
    manifest = tmp_path / "agent.json"
    manifest.write_text(json.dumps({"agent": "support-assistant", "scope": {}}))
    with FakeServer() as server:
        server.routes["/api/v1/agents/support-assistant/packages"] = [(201, created)]
        env = {**os.environ, "COUNTERSIGN_URL": server.url, "COUNTERSIGN_TOKEN": TOKEN}
        env["NO_PROXY"] = env["no_proxy"] = "*"
        command = [sys.executable, "tools/countersign-gate", "submit", "--no-submit"]

        status, error = reader_gone([*command, "--manifest", str(manifest)], env, lines=1)

    assert_quiet(status, error)


def without_stdout(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `command` with its standard output closed (`>&-`), as a job started without one."""
    return subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *command],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


def test_the_gate_with_no_standard_output_still_answers_by_its_status(tmp_path):
    """Python writes nothing where there is no standard output; the answer is the status."""
    manifest = tmp_path / "agent.json"
    manifest.write_text(json.dumps({"agent": "support-assistant", "scope": {}}))
    with FakeServer() as server:
        server.routes["/api/v1/gate/check"] = [(200, ALLOW)]
        env = {**os.environ, "COUNTERSIGN_URL": server.url, "COUNTERSIGN_TOKEN": TOKEN}
        env["NO_PROXY"] = env["no_proxy"] = "*"
        command = [sys.executable, "tools/countersign-gate", "check", "--manifest", str(manifest)]

        finished = without_stdout(command, env)

    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""


@pytest.mark.parametrize("tool", ["verify-evidence", "verify-policy"])
def test_a_verifier_with_no_standard_output_still_answers_by_its_status(tool, tmp_path):
    command = [sys.executable, f"tools/{tool}", *verifier_arguments(tool, tmp_path)]

    finished = without_stdout(command, dict(os.environ))

    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr, finished.stderr


def test_the_tools_stop_for_a_reader_gone_with_the_same_code():
    """Each tool runs alone, so each carries `reader_gone` and `output_gone`: the copies are
    held equal, manage.py's `output_gone` with them."""

    def code(path, start):
        text = path.read_text(encoding="utf-8")
        at = text.index(start)
        return text[at : text.index("\n\n\n", at)]

    def reader_gone_code(name):
        return code(ROOT / "tools" / name, "\ndef reader_gone() -> int:")

    def output_gone_code(path):
        return code(path, "\ndef output_gone() -> bool:")

    gate = reader_gone_code("countersign-gate")
    assert "EXIT_READER_GONE" in gate
    assert reader_gone_code("verify-evidence") == gate
    assert reader_gone_code("verify-policy") == gate
    gone = output_gone_code(ROOT / "tools" / "countersign-gate")
    for path in (ROOT / "tools" / "verify-evidence", ROOT / "tools" / "verify-policy"):
        assert output_gone_code(path) == gone
    assert output_gone_code(ROOT / "manage.py") == gone
