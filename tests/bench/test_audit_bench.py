"""The audit bench's way in is a session the application accepts."""

import importlib.util
from pathlib import Path

from django.conf import settings

# bench/audit_bench.py is a script, not a package's module: loaded from its path.
_SPEC = importlib.util.spec_from_file_location(
    "audit_bench", Path(__file__).resolve().parents[2] / "bench" / "audit_bench.py"
)
audit_bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(audit_bench)


def test_the_bench_session_may_export_the_audit_trail(db, client):
    client.cookies[settings.SESSION_COOKIE_NAME] = audit_bench.session_cookie()

    response = client.get("/api/v1/audit/export.csv?agent=agent-000")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
