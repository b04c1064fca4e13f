"""Time the busiest pages and count their queries on the database DATABASE_URL names.

Prints one JSON line: {page: {"ms": {median,min,max,runs}, "queries": n}}.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from approvals.models import ApprovalPackage, PackageState  # noqa: E402


def reviewer():
    user, _ = get_user_model().objects.get_or_create(username="bench-security1")
    user.groups.add(Group.objects.get_or_create(name="security")[0])
    return user


# The dashboard as first drawn after a decision, its lead-time figures computed
# rather than taken from the cache.
UNCACHED = "dashboard, charts not cached"


def pages() -> dict[str, str]:
    package = (
        ApprovalPackage.objects.filter(state=PackageState.APPROVED)
        .select_related("agent")
        .order_by("-id")
        .first()
    )
    return {
        "dashboard": reverse("dashboard"),
        UNCACHED: reverse("dashboard"),
        "agent list": reverse("agent-list"),
        "review page": reverse(
            "package-detail", kwargs={"slug": package.agent.slug, "version": package.version}
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(reviewer())
    out = {}
    for name, url in pages().items():
        client.get(url)  # warm up
        times, queries = [], None
        for _ in range(max(args.runs, 5)):
            if name == UNCACHED:
                cache.clear()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{name} answered {response.status_code}")
            queries = len(captured)
        out[name] = {
            "ms": {
                "median": round(statistics.median(times), 1),
                "min": round(min(times), 1),
                "max": round(max(times), 1),
                "runs": len(times),
            },
            "queries": queries,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
