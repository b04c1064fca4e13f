"""The performance harness: seed PostgreSQL, serve with gunicorn, measure, report.

`make bench` runs it at full volume and `make bench-quick` at a laptop's. It
prints a Markdown table and writes it with the JSON figures under
bench/results/. Every figure is the median of several runs, with min and max.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")
PORT = int(os.environ.get("BENCH_PORT", "8931"))
# The scratch databases' names start with this: two benches on one server stay apart.
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "cs_bench")

PROFILES = {
    "full": {"agents": 10_000, "events": 1_000_000, "observations": 1_000_000, "duration": 10},
    "quick": {"agents": 1_000, "events": 100_000, "observations": 100_000, "duration": 4},
}
SMALL = {"agents": 10, "events": 1_000, "observations": 1_000}


def django_env(database: str, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        SECRET_KEY="bench-secret-key-not-for-production-0123456789abcdefghijklmnop",  # noqa: S106
        DATABASE_URL=f"{PG}/{database}",
        CELERY_BROKER_URL=REDIS,
        REDIS_URL=REDIS,
        CONN_MAX_AGE="60",
        SECURE_SSL_REDIRECT="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        BENCH_VIEWS="1",
        THROTTLE_GATE="100000000/min",
        THROTTLE_WRITES="100000000/min",
        THROTTLE_DECISIONS="100000000/min",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def run(args: list[str], env: dict, **kwargs) -> str:
    result = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, check=False, **kwargs
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def psql(sql: str, database: str = "postgres") -> str:
    return run(["psql", f"{PG}/{database}", "-Atc", sql], dict(os.environ))


def prepare(database: str, volume: dict, reuse: bool) -> dict:
    """Create and seed the database, or reuse it when it already has this volume."""
    if reuse:
        try:
            agents = int(psql("SELECT count(*) FROM agents_agent", database).strip())
            if agents >= volume["agents"]:
                run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], django_env(database))
                return {"reused": True, "agents": agents}
        except RuntimeError:
            pass
    psql(f'DROP DATABASE IF EXISTS "{database}"')
    psql(f'CREATE DATABASE "{database}"')
    out = run(
        [
            PYTHON,
            "bench/seed.py",
            "--agents",
            str(volume["agents"]),
            "--events",
            str(volume["events"]),
            "--observations",
            str(volume["observations"]),
        ],
        django_env(database),
    )
    return json.loads(out.strip().splitlines()[-1])


class Gunicorn:
    """gunicorn on 127.0.0.1 as the app ships it (gunicorn.conf.py), or with `workers` workers."""

    def __init__(self, database: str, workers: int | None = None):
        self.env = django_env(database)
        self.workers = workers
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{PORT}",
                *(["--workers", str(self.workers)] if self.workers else []),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2)  # noqa: S310
                return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not come up")

    def __exit__(self, *exc):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=20)

    def peak_rss_mb(self) -> float:
        """Return the largest resident set among the gunicorn processes, in MB."""
        pids = [self.process.pid]
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        ).stdout
        pids += [int(p) for p in out.split()]
        peak = 0
        for pid in pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmHWM:\s+(\d+) kB", status)
            if match:
                peak = max(peak, int(match.group(1)))
        return round(peak / 1024, 1)


def wrk(
    path: str,
    duration: int,
    script: Path | None = None,
    connections: int = 32,
    headers: dict | None = None,
) -> dict:
    """Run wrk (32 connections unless told); return requests/s and p50/p99 latency in ms."""
    threads = min(2, connections)
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    if script:
        args += ["-s", str(script)]
    out = subprocess.run(
        args + [f"http://127.0.0.1:{PORT}{path}"], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def latency(pct: str) -> float:
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {
        "rps": rps,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def post_script(name: str, body: dict, token: str, vary: str = "") -> Path:
    """Write a wrk script POSTing `body`; with `vary`, a marker in it becomes a new number
    on every request (each wrk thread counts on its own, prefixed with its number)."""
    path = RESULTS / f"{name}.lua"
    head = (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    text = json.dumps(body)
    if not vary:
        path.write_text(head + f"wrk.body = {json.dumps(text)}\n")
        return path
    before, after = text.split(vary)
    path.write_text(
        head
        + f"local before, after = {json.dumps(before)}, {json.dumps(after)}\n"
        + "local threads = 0\n"
        + "function setup(thread) threads = threads + 1; thread:set('id', threads) end\n"
        + "local n = 0\n"
        + "function request()\n"
        + "  n = n + 1\n"
        + "  return wrk.format(nil, nil, nil, before .. id .. '-' .. n .. after)\n"
        + "end\n"
    )
    return path


def summary(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "runs": len(values),
    }


def gate_fixture(database: str) -> dict:
    """Return a gate token, an approved agent's slug, manifest, digest and YAML text, an agent pk.

    Also a token with the decision scope (`runtime_token`) for the AuthZEN
    endpoints and the policy export, and the approved scope's entries as
    (kind, identifier, access) for the evaluations to ask about.

    The approved version is marked as created from that YAML text (its source
    digest), as it is when a pipeline submits its manifest file: the bench
    COPYs packages in rather than creating them through the service.
    """
    code = (
        "import json, yaml; from django.contrib.auth import get_user_model;"
        "from audit.actors import Actor; from tokens.services import token_create;"
        "from approvals.models import ApprovalPackage;"
        "from approvals.manifest import source_digest;"
        "from approvals.manifest.scope import scope_entries;"
        "u = get_user_model().objects.get(username='bench-owner');"
        "t, secret = token_create(actor=Actor.system('bench'), user=u, name='bench-ci',"
        " scopes=['gate:check']);"
        "rt, runtime = token_create(actor=Actor.system('bench'), user=u, name='bench-runtime',"
        " scopes=['decisions:evaluate']);"
        "p = ApprovalPackage.objects.filter(state='approved').select_related('agent')"
        ".order_by('-agent_id').first();"
        "text = yaml.safe_dump(p.manifest);"
        "ApprovalPackage.objects.filter(pk=p.pk)"
        ".update(source_digest=source_digest(text, 'application/yaml'));"
        "print(json.dumps({'token': secret, 'agent': p.agent.slug, 'agent_pk': p.agent_id,"
        " 'digest': p.digest, 'manifest': p.manifest, 'yaml': text, 'runtime_token': runtime,"
        " 'entries': [[k, e['id'], e['access']] for k, e in scope_entries(p.manifest)]}))"
    )
    out = run([PYTHON, "manage.py", "shell", "-c", code], django_env(database))
    return json.loads(out.strip().splitlines()[-1])


GATE = "/api/v1/gate/check"
EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"
BATCH_SIZE = 100
ONE_EVALUATION = "runtime evaluation (one)"
BATCH = f"runtime evaluations (a batch of {BATCH_SIZE}, one connection)"
EXPORT = "policy export (an approved agent, one connection)"
NOT_MODIFIED = "policy export, 304 on an unchanged ETag (one connection)"
# The latency figures' reference: what one round trip of the web stack takes now.
ONE_QUERY_ALONE = "one primary-key query (one connection)"
# Figures paired with the one-query view at 32 connections: (share of its
# throughput, p99 in ms). The gate's are 0.5× and 50 ms for every kind of check
# but the first check of a text after an edit; a runtime decision is asked on
# every tool call, so its targets are tighter.
PAIRED_TARGETS = {
    "gate check (manifest YAML, a new text each check)": (0.35, 50),
    ONE_EVALUATION: (0.8, 25),
}
PAIRED_DEFAULT = (0.5, 50)
# Figures timed one request at a time: their latency ceilings in ms.
LATENCY_TARGETS = {
    BATCH: {"p50_ms": 20},
    EXPORT: {"p50_ms": 50, "p99_ms": 50},
    NOT_MODIFIED: {"p50_ms": 5},
}
NUMBER = "NUMBER"  # in a body: a new number on every request


def gate_bodies(fixture: dict) -> dict:
    """Return the gate's bodies by target name, each with the fixture's approved scope."""
    agent, text = fixture["agent"], fixture["yaml"]
    return {
        "gate check (digest)": {"agent": agent, "digest": fixture["digest"]},
        "gate check (manifest)": {"agent": agent, "manifest": fixture["manifest"]},
        # A JSON manifest never seen: another description each time, so it is
        # read, and compared with the approved version, on every check.
        "gate check (manifest, a new one each check)": {
            "agent": agent,
            "manifest": {**fixture["manifest"], "description": f"Check {NUMBER}."},
        },
        # What tools/countersign-gate sends for a manifest file in YAML: the file
        # it submitted, or any other text (here: the same with a comment), read
        # in full once; the worst case, a text never seen, read in full each time.
        "gate check (manifest YAML, the approved text)": {"agent": agent, "manifest_yaml": text},
        "gate check (manifest YAML, other text)": {
            "agent": agent,
            "manifest_yaml": "# edited\n" + text,
        },
        "gate check (manifest YAML, a new text each check)": {
            "agent": agent,
            "manifest_yaml": f"# check {NUMBER}\n" + text,
        },
    }


def gate_allows(body: dict, token: str) -> None:
    """Fail the benchmark unless the gate allows this body: a deny would be timed instead."""
    data = json.dumps(body).replace(NUMBER, "probe").encode()
    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1
        f"http://127.0.0.1:{PORT}{GATE}",
        data=data,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        allowed_or_fail(json.load(response))


def allowed_or_fail(answer: dict) -> None:
    """Raise unless a gate answer allows: a benchmark must never time or count a deny."""
    if answer["decision"] != "allow":
        raise RuntimeError(f"the gate denies the benchmark's check: {answer['reasons']}")


def evaluation_bodies(fixture: dict) -> dict:
    """Return the AuthZEN bodies: one evaluation, and a batch of BATCH_SIZE, all in scope.

    The single one asks for the approved scope's first entry at its approved
    access; the batch asks for every entry in turn, with the agent as the
    batch's default subject.
    """
    subject = {"type": "agent", "id": fixture["agent"]}

    def ask(kind: str, identifier: str, access: str) -> dict:
        return {"action": {"name": access}, "resource": {"type": kind, "id": identifier}}

    entries = fixture["entries"]
    return {
        "one": {"subject": subject, **ask(*entries[0])},
        "batch": {
            "subject": subject,
            "evaluations": [ask(*entries[n % len(entries)]) for n in range(BATCH_SIZE)],
        },
    }


def decisions_or_fail(path: str, answer: dict) -> None:
    """Raise unless every decision in an AuthZEN answer is true: a deny is never timed."""
    decisions = answer.get("evaluations", [answer])
    if path == EVALUATIONS and len(decisions) != BATCH_SIZE:
        raise RuntimeError(f"the batch answered {len(decisions)} of {BATCH_SIZE} evaluations")
    denied = [d for d in decisions if d.get("decision") is not True]
    if denied:
        raise RuntimeError(f"the decision point denies the benchmark's request: {denied[0]}")


def evaluations_allow(fixture: dict) -> None:
    """Fail the benchmark unless the single evaluation and every one of the batch allow."""
    bodies = evaluation_bodies(fixture)
    for path, body in ((EVALUATION, bodies["one"]), (EVALUATIONS, bodies["batch"])):
        request = urllib.request.Request(  # noqa: S310 - 127.0.0.1
            f"http://127.0.0.1:{PORT}{path}",
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {fixture['runtime_token']}",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            decisions_or_fail(path, json.load(response))


def policy_path(fixture: dict) -> str:
    return f"/api/v1/agents/{fixture['agent']}/policy"


def policy_etag(fixture: dict) -> str:
    """Return the approved agent's bundle ETag; fail unless the bundle allows and 304 answers it.

    A bundle that forbids everything (a suspended or expired agent) is smaller
    and cheaper, so it must never be what gets timed; nor a 200 for the 304.
    """
    auth = {"Authorization": f"Bearer {fixture['runtime_token']}"}
    url = f"http://127.0.0.1:{PORT}{policy_path(fixture)}"
    request = urllib.request.Request(url, headers=auth)  # noqa: S310 - 127.0.0.1
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        bundle, etag = json.load(response), response.headers["ETag"]
    if bundle["decision"] != "allow" or "permit" not in bundle["policies"]:
        raise RuntimeError(f"the approved agent's bundle denies: {bundle['reasons']}")
    request = urllib.request.Request(url, headers={**auth, "If-None-Match": etag})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    if status != 304:
        raise RuntimeError(f"an unchanged ETag answered {status}, not 304")
    return etag


def measure_http(database: str, runs: int, duration: int) -> dict:
    fixture = gate_fixture(database)
    bodies = gate_bodies(fixture)
    decisions = evaluation_bodies(fixture)
    auth = {"Authorization": f"Bearer {fixture['runtime_token']}"}
    policy = policy_path(fixture)
    # Each target's wrk arguments besides the duration.
    targets = {
        "plain JSON view": {"path": "/bench/ping"},
        "one primary-key query": {"path": f"/bench/one-query/{fixture['agent_pk']}"},
    }
    for i, (name, body) in enumerate(bodies.items()):
        vary = NUMBER if NUMBER in json.dumps(body) else ""
        targets[name] = {
            "path": GATE,
            "script": post_script(f"gate_{i}", body, fixture["token"], vary),
        }
    paired = [*bodies, ONE_EVALUATION]
    targets[ONE_EVALUATION] = {
        "path": EVALUATION,
        "script": post_script("evaluation", decisions["one"], fixture["runtime_token"]),
    }
    # The latency figures are timed one request at a time: what one caller waits.
    targets[BATCH] = {
        "path": EVALUATIONS,
        "script": post_script("evaluations", decisions["batch"], fixture["runtime_token"]),
        "connections": 1,
    }
    targets[EXPORT] = {"path": policy, "headers": auth, "connections": 1}
    targets[ONE_QUERY_ALONE] = {**targets["one primary-key query"], "connections": 1}
    results = {name: [] for name in targets}
    one_query = targets["one primary-key query"]
    # BENCH_WORKERS=2 reproduces the reference baselines' server (two sync workers).
    workers = os.environ.get("BENCH_WORKERS")
    with Gunicorn(database, workers=int(workers) if workers else None):
        for body in bodies.values():
            gate_allows(body, fixture["token"])
        evaluations_allow(fixture)
        etag = policy_etag(fixture)
        targets[NOT_MODIFIED] = {
            "path": policy,
            "headers": {**auth, "If-None-Match": etag},
            "connections": 1,
        }
        results[NOT_MODIFIED] = []
        for target in targets.values():
            wrk(duration=2, **target)  # warm up every worker's connection and caches
        for _ in range(runs):
            results["plain JSON view"].append(wrk(duration=duration, **targets["plain JSON view"]))
            # Each paired figure is paired with a one-query run just before it: this
            # machine's speed drifts within a minute, so a ratio is taken in a pair.
            for name in paired:
                base = wrk(duration=max(1, duration // 2), **one_query)
                results["one primary-key query"].append(base)
                sample = wrk(duration=duration, **targets[name])
                sample["ratio"] = sample["rps"] / base["rps"]
                results[name].append(sample)
            for name in [ONE_QUERY_ALONE, *LATENCY_TARGETS]:
                results[name].append(wrk(duration=duration, **targets[name]))
    out = {}
    for name, samples in results.items():
        out[name] = {
            "rps": summary([s["rps"] for s in samples]),
            "p50_ms": summary([s["p50_ms"] for s in samples]),
            "p99_ms": summary([s["p99_ms"] for s in samples]),
            "non_2xx": sum(s["non_2xx"] for s in samples),
        }
        if name in paired:
            out[name]["ratio_to_one_query"] = summary([s["ratio"] for s in samples])
    return out


def measure_pages(database: str, runs: int) -> dict:
    out = run([PYTHON, "bench/pages.py", "--runs", str(runs)], django_env(database))
    return json.loads(out.strip().splitlines()[-1])


def run_json(args: list[str], env: dict) -> dict:
    out = run(args, env, timeout=3600)
    return json.loads(out.strip().splitlines()[-1])


def figure(name: str, values: list[float], target: str = "") -> dict:
    return {"figure": name, **summary(values), "target": target}


def measure_audit(runs: int, rows: int) -> dict:
    """Run bench/audit_bench.py on its own database: COPY vs HTTP export, memory, verify."""
    args = [PYTHON, "bench/audit_bench.py", "--rows", str(rows), "--reuse"]
    samples = [run_json(args, django_env(f"{DB_PREFIX}_audit")) for _ in range(runs)]

    def values(key):
        return [s[key] for s in samples]

    ratio = statistics.median(values("http_vs_copy_psql"))
    rss = max(values("web_worker_peak_rss_mb"))
    verify = statistics.median(values("verify_seconds"))
    return {
        "samples": samples,
        "rows": [
            figure(f"COPY TO STDOUT of {rows:,} events: rows/s", values("copy_psql_rows_per_s")),
            figure(
                "HTTP CSV export: rows/s",
                values("http_csv_rows_per_s"),
                f"≥ 0.5 × COPY ({ratio}×): {verdict(ratio >= 0.5)}",
            ),
            figure("HTTP JSON Lines export: rows/s", values("http_jsonl_rows_per_s")),
            figure(
                "web worker peak RSS during export: MB",
                values("web_worker_peak_rss_mb"),
                f"< 200 MB: {verdict(rss < 200)}",
            ),
            figure(
                f"chain verification of {rows:,} events: s",
                values("verify_seconds"),
                f"< 10 s: {verdict(verify < 10)}",
            ),
        ],
    }


def measure_drift(runs: int, agents: int, observations: int) -> dict:
    """Run bench/drift_bench.py on its own database: first and repeated drift evaluation."""
    per_agent = max(1, observations // agents)
    url = f"{PG}/{DB_PREFIX}_drift"
    # Reuse the drift database only when an earlier run seeded it at this volume.
    try:
        seeded = int(psql("SELECT count(*) FROM agents_observation", f"{DB_PREFIX}_drift").strip())
    except RuntimeError:
        seeded = 0
    exists = seeded >= per_agent * agents
    samples = []
    for n in range(runs):
        args = [
            PYTHON,
            "bench/drift_bench.py",
            "--url",
            url,
            "--agents",
            str(agents),
            "--observations-per-agent",
            str(per_agent),
        ]
        if exists or n:
            args.append("--reuse")
        samples.append(run_json(args, django_env(f"{DB_PREFIX}_drift")))
    first = [s["first_run"]["seconds"] for s in samples]
    queries = sorted({q for s in samples for q in s["first_run"]["queries_per_batch"]})
    return {
        "samples": samples,
        "rows": [
            figure(
                f"drift over {samples[0]['observations']:,} observations, {agents:,} agents: s",
                first,
                f"< 60 s: {verdict(statistics.median(first) < 60)}",
            ),
            figure(
                "drift re-run (nothing new): s",
                [s["second_run"]["seconds"] for s in samples],
                f"queries per batch {queries}: constant {verdict(len(queries) == 1)}",
            ),
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="laptop volume, shorter runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="reuse seeded databases")
    parser.add_argument(
        "--http-only",
        action="store_true",
        help="only the figures served over HTTP (the gate, the decision point), on the large seed",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    profile = PROFILES["quick" if args.quick else "full"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    big, small = DB_PREFIX, f"{DB_PREFIX}_small"
    report = {
        "profile": "quick" if args.quick else "full",
        "volume": profile,
        "cores": os.cpu_count(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    # DEBUG is off, so pages link static files through collectstatic's manifest.
    run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"], django_env(small))
    report["seed"] = {
        "small": prepare(small, SMALL, args.reuse),
        "large": prepare(big, profile, args.reuse),
    }
    report["http"] = measure_http(big, args.runs, profile["duration"])
    if not args.http_only:
        report["pages"] = {
            "10 agents": measure_pages(small, args.runs),
            f"{profile['agents']} agents": measure_pages(big, args.runs),
        }
        report["audit"] = measure_audit(args.runs, profile["events"])
        report["drift"] = measure_drift(args.runs, profile["agents"], profile["observations"])
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
    table = render(report)
    (RESULTS / "latest.md").write_text(table)
    print(table)
    return 0


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def render(report: dict) -> str:
    lines = [
        f"# Countersign benchmark ({report['profile']}, {report['cores']} cores, "
        f"{report['started']})",
        "",
        "| figure | median | min | max | target |",
        "|---|---|---|---|---|",
    ]
    http = report["http"]
    for name, row in http.items():
        target = ""
        if "ratio_to_one_query" in row:
            # Two targets, each with its own verdict: a miss says which one.
            ratio = row["ratio_to_one_query"]
            floor, ceiling = PAIRED_TARGETS.get(name, PAIRED_DEFAULT)
            target = (
                f"≥ {floor} × one-query ({ratio['median']}×, {ratio['min']}–{ratio['max']}): "
                f"{verdict(ratio['median'] >= floor)}; "
                f"p99 < {ceiling} ms: {verdict(row['p99_ms']['median'] < ceiling)}"
            )
        elif name in LATENCY_TARGETS:
            target = "; ".join(
                f"{key[:3]} < {ceiling} ms: {verdict(row[key]['median'] < ceiling)}"
                for key, ceiling in LATENCY_TARGETS[name].items()
            )
        if row.get("non_2xx"):
            target += f" ({row['non_2xx']} answers not 2xx or 3xx)"
        r = row["rps"]
        lines.append(f"| {name}: req/s | {r['median']} | {r['min']} | {r['max']} | {target} |")
        p = row["p99_ms"]
        lines.append(
            f"| {name}: p99 ms (p50 {row['p50_ms']['median']}) | {p['median']} | "
            f"{p['min']} | {p['max']} | |"
        )
    pages = report.get("pages", {})
    sizes = list(pages)
    for page in pages[sizes[0]] if sizes else []:
        counts = [pages[size][page]["queries"] for size in sizes]
        for size in sizes:
            t = pages[size][page]["ms"]
            lines.append(
                f"| {page} at {size}: ms ({pages[size][page]['queries']} queries) | "
                f"{t['median']} | {t['min']} | {t['max']} | constant queries: "
                f"{verdict(len(set(counts)) == 1)} |"
            )
    for section in ("audit", "drift"):
        for row in report.get(section, {}).get("rows", []):
            lines.append(
                f"| {row['figure']} | {row['median']} | {row['min']} | {row['max']} | "
                f"{row['target']} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
