"""Count the instructions a web worker spends on one request: gate checks, runtime decisions.

This machine's speed drifts from minute to minute, so a change of a few
percent in the gate's cost is lost in a timed run; the instructions the
worker's process executes (valgrind's callgrind counts them) are the same on
every run. Each target is requested in process through the WSGI application
as gunicorn calls it, with the database and Redis as the bench's server has
them; PostgreSQL's own work is not in the count. A target is counted twice,
with 0 and with --requests requests after the same warm-up, and the difference
divided by the requests is its cost.

    .venv/bin/python bench/instructions.py [--database cs_bench_small] [--requests 300]

The targets: the one-query view, each kind of gate check, a runtime evaluation,
a batch of 100 evaluations and the policy export of an approved agent (each
checked to allow, so a deny is never what is counted).

Prints a Markdown table and writes bench/results/instructions.{json,md}.
"""

import argparse
import io
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402

ONE_QUERY = "one primary-key query"
EXPORT = "policy export (an approved agent)"
# The runtime targets, by name: the request each one makes.
RUNTIME = {
    run.ONE_EVALUATION: run.EVALUATION,
    f"runtime evaluations (a batch of {run.BATCH_SIZE})": run.EVALUATIONS,
}
WARM_UP = 400


def count(target: str, fixture_path: str, database: str, requests: int) -> int:
    """Return the instructions of a worker process that serves `requests` of `target`."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        args = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            run.PYTHON,
            __file__,
            "--serve",
            target,
            "--fixture",
            fixture_path,
            "--requests",
            str(requests),
        ]
        run.run(args, run.django_env(database, DJANGO_SETTINGS_MODULE="config.settings"))
        for line in out.read_text().splitlines():
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError(f"callgrind wrote no summary for {target}")


def per_request(target: str, fixture_path: str, database: str, requests: int) -> int:
    base = count(target, fixture_path, database, 0)
    return (count(target, fixture_path, database, requests) - base) // requests


def serve(target: str, fixture: dict, requests: int) -> None:
    """Warm up, then answer `requests` of `target` in this process (callgrind counts it)."""
    sys.path.insert(0, str(run.ROOT))
    os.chdir(run.ROOT)
    from config.wsgi import application

    def call(method: str, path: str, body: bytes = b"", token: str = fixture["token"]) -> bytes:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(run.PORT),
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
        }
        status = []
        response = application(environ, lambda line, headers, exc_info=None: status.append(line))
        content = b"".join(response)
        response.close()
        if not status[0].startswith("200"):
            raise RuntimeError(f"{path} answered {status[0]}: {content[:200]!r}")
        return content

    runtime_token = fixture["runtime_token"]
    if target == ONE_QUERY:

        def request(n: int) -> bytes:
            return call("GET", f"/bench/one-query/{fixture['agent_pk']}")
    elif target == EXPORT:

        def request(n: int) -> bytes:
            answer = call("GET", run.policy_path(fixture), token=runtime_token)
            if json.loads(answer)["decision"] != "allow":
                raise RuntimeError("the approved agent's bundle denies")
            return answer
    elif target in RUNTIME:
        bodies = run.evaluation_bodies(fixture)
        path = RUNTIME[target]
        text = json.dumps(bodies["one"] if path == run.EVALUATION else bodies["batch"]).encode()

        def request(n: int) -> bytes:
            answer = call("POST", path, text, token=runtime_token)
            run.decisions_or_fail(path, json.loads(answer))
            return answer
    else:
        text = json.dumps(run.gate_bodies(fixture)[target])

        def request(n: int) -> bytes:
            answer = call("POST", run.GATE, text.replace(run.NUMBER, str(n)).encode())
            run.allowed_or_fail(json.loads(answer))
            return answer

    for n in range(WARM_UP):
        request(-n - 1)
    for n in range(requests):
        request(n)


def render(counts: dict[str, int], requests: int) -> str:
    base = counts[ONE_QUERY]
    lines = [
        f"# Worker instructions per request (callgrind, {requests} requests each)",
        "",
        "| target | instructions | × one-query |",
        "|---|---|---|",
    ]
    for name, value in counts.items():
        lines.append(f"| {name} | {value:,} | {value / base:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=f"{run.DB_PREFIX}_small")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--only", help="count only the targets whose names contain this (and the one-query view)"
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--fixture", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, json.loads(Path(args.fixture).read_text()), args.requests)
        return 0
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    run.prepare(args.database, run.SMALL, reuse=True)
    fixture = run.gate_fixture(args.database)
    fixture_path = run.RESULTS / "instructions-fixture.json"
    fixture_path.write_text(json.dumps(fixture))
    targets = [ONE_QUERY, *run.gate_bodies(fixture), *RUNTIME, EXPORT]
    if args.only:
        targets = [t for t in targets if t == ONE_QUERY or args.only in t]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        values = pool.map(
            lambda target: per_request(target, str(fixture_path), args.database, args.requests),
            targets,
        )
        counts = dict(zip(targets, values, strict=True))
    (run.RESULTS / "instructions.json").write_text(json.dumps(counts, indent=2))
    table = render(counts, args.requests)
    (run.RESULTS / "instructions.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
