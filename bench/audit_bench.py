#!/usr/bin/env python
"""Benchmark the audit trail: export over HTTP against COPY, and chain verification.

Seeds N hash-chained audit events (COPY FROM STDIN) into a scratch database,
then measures, on the same rows in the same run:

- `COPY (SELECT ...) TO STDOUT WITH CSV HEADER` rows/s, read by psql into /dev/null
  and by a psycopg client;
- the CSV and JSON Lines exports over HTTP through a real gunicorn on 127.0.0.1
  (started here), rows/s, and the peak RSS (VmHWM) of the web worker process;
- `audit_verify()` seconds over the whole chain, one worker per core as the
  `manage.py audit verify` command runs it.

Prints one JSON line of figures. Usage:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cs_bench_audit \\
        .venv/bin/python bench/audit_bench.py --rows 1000000

`--verify-only` skips the exports and times the verification alone, `--runs`
times, with `--workers` processes (default: one per core), to compare two
versions of the verifier back to back on the same rows.
"""

import argparse
import http.client
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cs_bench_audit"


def environment(database_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY=env.get("SECRET_KEY") or "bench-secret-key-not-for-production-0123456789abcdef",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        CONN_MAX_AGE="60",
        LOG_LEVEL="WARNING",
        COUNTERSIGN_VAR_DIR=str(ROOT / "var" / "bench-audit"),
    )
    return env


def database_create(database_url: str) -> None:
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def django_migrated(database_url: str) -> None:
    """Create the scratch database if it is missing, migrate it, and set Django up on it."""
    env = environment(database_url)
    database_create(database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    django_setup(env)


ACTIONS = [
    ("gate.checked", 70),
    ("signoff.decided", 12),
    ("package.created", 5),
    ("package.submitted", 5),
    ("package.approved", 3),
    ("observation.recorded", 5),
]


def fake_events(count: int, start_seq: int):
    """Yield (hashed fields, before, after, data) for plausible events, fast."""
    rng = random.Random(20261129)
    digests = [f"{rng.getrandbits(256):064x}" for _ in range(300)]
    agents = [f"agent-{n:03d}" for n in range(120)]
    actors = [("user", str(n), f"user{n}", "") for n in range(1, 40)] + [
        ("token", "7", "ci-bot", "token:cs_ab12cd34 (release pipeline)"),
        ("system", "", "celery:recertification", ""),
    ]
    names, weights = zip(*ACTIONS, strict=True)
    when = datetime(2025, 1, 1, tzinfo=UTC)
    for offset in range(count):
        seq = start_seq + offset
        when += timedelta(microseconds=rng.randint(1000, 90_000))
        action = rng.choices(names, weights)[0]
        actor = rng.choice(actors if action != "gate.checked" else actors[-2:])
        agent = rng.choice(agents)
        version = rng.randint(1, 9)
        before, after = {}, {}
        if action == "gate.checked":
            allow = rng.random() < 0.9
            data = {
                "decision": "allow" if allow else "deny",
                "digest": rng.choice(digests),
                "reasons": [] if allow else [{"code": "scope_mismatch", "expansions": 2}],
            }
        elif action == "signoff.decided":
            before, after = {"state": "pending"}, {"state": "approved"}
            data = {
                "dimension": rng.choice(["iam", "pam", "security", "compliance"]),
                "verdict": "approve",
                "comment": f"Reviewed run {seq}.",
                "answers": {f"Q{n}": True for n in range(1, 6)},
                "checklist_version": 1,
            }
            if not allow and rng.random() < 0.3:
                version = None  # denied before any approved version: no_approved_package
        elif action == "observation.recorded":
            version = None  # observations belong to the agent, not to a version
            data = {"observations": rng.randint(1, 50), "new_findings": 0}
        else:
            before, after = {"state": "draft"}, {"state": "in_review"}
            data = {"base_version": version - 1 or None}
        fields = {
            "seq": seq,
            "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_type": actor[0],
            "actor_id": actor[1],
            "actor_label": actor[2],
            "token_label": actor[3],
            "action": action,
            "target_type": "approvals.approvalpackage",
            "target_id": str(rng.randint(1, 5000)),
            "agent_slug": agent,
            "package_version": version,
            "before": before,
            "after": after,
            "data": data,
            "request_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        }
        yield fields, when


def seed(rows: int) -> float:
    """Replace the audit trail with `rows` chained events; return seconds taken."""
    from django.db import connection

    from audit.chain import GENESIS_HASH, HASHED_FIELDS, STORED_COLUMNS, event_hash

    started = time.perf_counter()
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("TRUNCATE audit_auditevent, audit_checkpoint")
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        prev = GENESIS_HASH
        statement = f"COPY audit_auditevent ({', '.join(STORED_COLUMNS)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for fields, when in fake_events(rows, 1):
                digest = event_hash(prev, fields)
                row = [fields[name] for name in HASHED_FIELDS]
                row[1] = when
                row[11], row[12], row[13] = (
                    json.dumps(fields[n]) for n in ("before", "after", "data")
                )
                copy.write_row((*row, prev, digest))
                prev = digest
        cursor.execute("ANALYZE audit_auditevent")
    return time.perf_counter() - started


def copy_psql(database_url: str, query: str) -> float:
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(["psql", database_url, "-q", "-c", query], stdout=sink, check=True)
    return time.perf_counter() - started


def copy_psycopg(query: str) -> tuple[float, int]:
    from django.db import connection

    started = time.perf_counter()
    size = 0
    with connection.cursor() as wrapper, wrapper.cursor.copy(query) as copy:
        for data in copy:
            size += len(data)
    return time.perf_counter() - started, size


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_cookie() -> str:
    """Return a session id for a staff user (the browser's way in)."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )

    from tokens.sessions import SessionStore

    user, _ = get_user_model().objects.get_or_create(
        username="bench-auditor", defaults={"is_staff": True}
    )
    user.set_password("bench-auditor-password")
    user.save()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    # The backend that signs local accounts in, as a password sign-in would record it.
    session[BACKEND_SESSION_KEY] = "identity.backends.LocalPasswordBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def http_export(port: int, path: str, cookie: str) -> tuple[float, int, int, dict]:
    """GET path, reading the stream; return seconds, bytes, lines and the headers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status} {response.read()[:300]!r}")
    size = lines = 0
    while chunk := response.read(1 << 20):
        size += len(chunk)
        lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    headers = dict(response.getheaders())
    conn.close()
    return seconds, size, lines, headers


def measure_exports(database_url: str, rows: int, figures: dict) -> None:
    """Time COPY and the HTTP exports of the whole chain into `figures`."""
    from audit.export import _CSV_SELECT

    query = (
        f"COPY (SELECT {_CSV_SELECT} FROM audit_auditevent WHERE seq BETWEEN 1 AND {rows} "  # noqa: S608
        "ORDER BY seq) TO STDOUT WITH (FORMAT csv, HEADER)"
    )
    seconds = copy_psql(database_url, query)
    figures["copy_psql_rows_per_s"] = round(rows / seconds)
    seconds, copy_bytes = copy_psycopg(query)
    figures["copy_psycopg_rows_per_s"] = round(rows / seconds)
    figures["csv_bytes"] = copy_bytes

    cookie = session_cookie()
    from django.db import connections

    connections.close_all()
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--timeout",
            "600",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=environment(database_url),
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        http_export(port, "/api/v1/audit/export.csv?agent=agent-000", cookie)  # warm up
        workers = children(server.pid)
        seconds, size, lines, headers = http_export(port, "/api/v1/audit/export.csv", cookie)
        figures["http_csv_rows_per_s"] = round((lines - 1) / seconds)
        figures["http_csv_bytes"] = size
        figures["http_csv_rows"] = lines - 1
        figures["http_csv_last_seq"] = int(headers.get("X-Audit-Last-Seq", 0))
        seconds, size, lines, _ = http_export(port, "/api/v1/audit/export.jsonl", cookie)
        figures["http_jsonl_rows_per_s"] = round((lines - 1) / seconds)
        figures["http_vs_copy_psql"] = round(
            figures["http_csv_rows_per_s"] / figures["copy_psql_rows_per_s"], 3
        )
        figures["web_worker_peak_rss_mb"] = max(peak_rss_mb(pid) for pid in workers)
        figures["web_master_peak_rss_mb"] = peak_rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def cpu_seconds() -> float:
    """Return the CPU time of this process and of its finished children."""
    own, forked = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + forked.ru_utime + forked.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--reuse", action="store_true", help="Keep rows already seeded.")
    parser.add_argument(
        "--verify-only", action="store_true", help="Time the verification alone, no exports."
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="Verification processes (default: one per core, as `manage.py audit verify`).",
    )
    parser.add_argument("--runs", type=int, default=1, help="Verification runs (--verify-only).")
    args = parser.parse_args()

    django_migrated(args.database_url)
    from audit.actors import Actor
    from audit.checkpoints import checkpoint_create
    from audit.models import AuditEvent
    from audit.verify import audit_verify

    figures: dict = {
        "rows": args.rows,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    have = AuditEvent.objects.count()
    if not (args.reuse and have == args.rows):
        figures["seed_seconds"] = round(seed(args.rows), 2)
    checkpoint_create(actor=Actor.system("bench"))
    if not args.verify_only:
        measure_exports(args.database_url, args.rows, figures)

    runs = []
    for _ in range(args.runs if args.verify_only else 1):
        before = cpu_seconds()
        result = audit_verify(workers=args.workers)
        runs.append((result.seconds, round(cpu_seconds() - before, 2)))
    figures["verify_seconds"] = runs[0][0]
    figures["verify_workers"] = args.workers
    figures["verify_python_cpu_seconds"] = runs[0][1]
    if len(runs) > 1:
        figures["verify_runs"] = [{"seconds": s, "cpu_seconds": c} for s, c in runs]
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    figures["verify_ok"] = result.ok
    figures["verify_events"] = result.events
    print(json.dumps(figures))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
