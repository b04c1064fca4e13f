"""The embedded default: the pages run on SQLite, not only on PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs inside a Django process whose DATABASE_URL is a fresh SQLite file.
AUDIT_PAGE_AS_OWNER = """
from django.db import transaction
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
from audit.actors import Actor
from audit.services import audit_record
from tests.factories import AgentFactory, UserFactory

owner = UserFactory(username="olivia", groups=["product-owner"])
other = UserFactory(username="otto", groups=["product-owner"])
mine = [AgentFactory(slug=f"mine-{n}", owners=[owner]) for n in range(3)]
theirs = AgentFactory(slug="theirs", team="finance", owners=[other])
for n, agent in enumerate(mine * 2 + [theirs]):
    with transaction.atomic():
        audit_record(actor=Actor.for_user(owner), action="agent.updated",
                     agent_slug=agent.slug, data={"n": n})
setup_test_environment()  # the test client then records the rendered context
plain = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
with override_settings(STORAGES=plain):
    client = Client()
    client.force_login(owner)
    response = client.get("/audit/")
    events = response.context["page"].events
    print("STATUS", response.status_code)
    print("SLUGS", sorted({event.agent_slug for event in events}))
    print("COUNT", len(events))
"""


# Runs inside a Django process on a fresh SQLite file holding the demo data.
COMPLIANCE_PAGES = """
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
from django.contrib.auth.models import User
from audit.models import VerificationRun
from audit.verification import verification_run

setup_test_environment()
plain = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
with override_settings(STORAGES=plain):
    client = Client()
    client.force_login(User.objects.get(username="auditor"))
    home = client.get("/")
    print("HOME", home.status_code)
    for chart in home.context["charts"]:
        print("CHART", chart.slug, chart.empty, chart.description)
    first = client.get("/audit/")
    older = first.context["page"].older
    print("AUDIT", first.status_code, len(first.context["page"].events))
    print("OLDER", client.get("/audit/", {"before": older}).status_code)
    print("NEWER", client.get("/audit/", {"after": 1}).status_code)
    print("SENTENCE", first.context["page"].events[-1].sentence)
    bad = client.get("/audit/", {"since": "notadate"})
    print("BAD", bad.status_code, len(bad.context["page"].events), dict(bad.context["form"].errors))
    asked = client.post("/audit/verify/")
    run = VerificationRun.objects.get()
    print("ASKED", asked.status_code, asked["Location"], run.state)
    verification_run(run_id=run.pk, step=10)
    shown = client.get(asked["Location"])
    state = VerificationRun.objects.get().state
    print("RUN", shown.status_code, state, shown.has_header("Refresh"))
    print("INTACT", "The chain is intact" in shown.content.decode())
    client.force_login(User.objects.get(username="owner"))
    print("OWNER", client.get("/audit/").status_code, client.get("/").status_code)
"""


# Runs inside a Django process on a fresh SQLite file: while another connection
# writes, a transaction that reads and then writes waits its turn.
READ_THEN_WRITE_BESIDE_A_WRITER = """
import threading, time
from django.db import connection, transaction

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE counter (n integer)")
    cursor.execute("INSERT INTO counter VALUES (0)")
holding, asking = threading.Event(), threading.Event()

def writer():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE counter SET n = n + 1")
        holding.set()
        asking.wait()
        time.sleep(0.3)  # still holding the write lock as the other transaction begins
    connection.close()

thread = threading.Thread(target=writer)
thread.start()
holding.wait()
asking.set()
with transaction.atomic(), connection.cursor() as cursor:
    cursor.execute("SELECT n FROM counter")
    cursor.execute("UPDATE counter SET n = n + 10")
thread.join()
with connection.cursor() as cursor:
    cursor.execute("SELECT n FROM counter")
    print("N", cursor.fetchone()[0])
"""


def sqlite_env(tmp_path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'countersign.sqlite3'}",
        "DEBUG": "0",
        "SECRET_KEY": "sqlite-test-secret-key-0123456789abcdef0123456789abcdef",
        "SECURE_SSL_REDIRECT": "0",
        # Jobs are sent to an in-process broker that no worker reads; the test runs them.
        "CELERY_BROKER_URL": "memory://",
    }


MANAGE = [sys.executable, str(ROOT / "manage.py")]


def shell(script: str, env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run the script in `manage.py shell` on env's database; fail the test if it fails."""
    run = subprocess.run(
        [*MANAGE, "shell", "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stderr
    return run


def test_an_owner_reads_the_audit_log_on_sqlite(tmp_path):
    env = sqlite_env(tmp_path)
    subprocess.run([*MANAGE, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=120)
    run = shell(AUDIT_PAGE_AS_OWNER, env)
    assert "STATUS 200" in run.stdout, run.stdout + run.stderr
    assert "SLUGS ['mine-0', 'mine-1', 'mine-2']" in run.stdout
    assert "COUNT 6" in run.stdout


def test_the_dashboard_charts_the_audit_words_and_a_verification_on_sqlite(tmp_path):
    """The embedded default holds the demo data; every read of the compliance pages works."""
    env = sqlite_env(tmp_path)
    for command in (["migrate", "-v", "0"], ["load_checklists"], ["seed_demo"]):
        subprocess.run(
            [*MANAGE, *command], env=env, cwd=ROOT, check=True, timeout=180, capture_output=True
        )
    run = shell(COMPLIANCE_PAGES, env, timeout=180)
    lines = run.stdout.splitlines()
    out = "\n".join(lines)
    assert "HOME 200" in lines, out + run.stderr
    charts = {line.split()[1]: line for line in lines if line.startswith("CHART")}
    assert set(charts) == {"expiry", "lead-time", "drift"}
    assert "decisions in the last 90 days" in charts["lead-time"]
    assert "CHART drift False" in charts["drift"], "the demo data has a drift finding"
    assert "AUDIT 200 50" in lines and "OLDER 200" in lines and "NEWER 200" in lines
    assert any(line.startswith("SENTENCE ") and "{" not in line for line in lines)
    assert any(line.startswith("BAD 200 50 {'since'") for line in lines), out
    assert any(line.startswith("ASKED 302 /audit/verify/1/ queued") for line in lines), out
    assert "RUN 200 passed False" in lines and "INTACT True" in lines, out
    assert "OWNER 200 200" in lines


def test_a_transaction_that_reads_then_writes_waits_for_another_writer(tmp_path):
    """The web process, the worker and manage.py share the file: none fails as "locked"."""
    run = shell(READ_THEN_WRITE_BESIDE_A_WRITER, sqlite_env(tmp_path))
    assert "N 11" in run.stdout, run.stdout + run.stderr
