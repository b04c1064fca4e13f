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


def test_an_owner_reads_the_audit_log_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'countersign.sqlite3'}",
        "DEBUG": "0",
        "SECRET_KEY": "sqlite-test-secret-key-0123456789abcdef0123456789abcdef",
        "SECURE_SSL_REDIRECT": "0",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=120)
    run = subprocess.run(
        [*manage, "shell", "-c", AUDIT_PAGE_AS_OWNER],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "STATUS 200" in run.stdout, run.stdout + run.stderr
    assert "SLUGS ['mine-0', 'mine-1', 'mine-2']" in run.stdout
    assert "COUNT 6" in run.stdout
