"""Give each pytest-xdist worker its own Redis database, before the settings are read.

`make test` runs the suite in parallel workers. pytest-django gives each worker
its own PostgreSQL test database; Redis needs the same: the tests empty the
cache, count throttles and usage, and run Celery workers on their broker, so
two workers sharing one database would see each other's keys and tasks.

Worker N (gwN) uses the database N below the one REDIS_URL and CELERY_BROKER_URL
name (15, 14, ... for the default 15). Loaded with `-p` (pyproject.toml) so it
runs before pytest-django imports the settings; without xdist it changes nothing.
"""

import os
import re

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _for_worker(url: str, offset: int) -> str:
    match = re.fullmatch(r"(redis://[^/]+)/(\d+)", url)
    if not match:
        raise SystemExit(f"Expected a redis://host:port/db URL for the test workers, got {url!r}")
    database = int(match.group(2)) - offset
    if database < 0:
        raise SystemExit(f"Too many test workers for Redis databases below {url!r}")
    return f"{match.group(1)}/{database}"


if WORKER.startswith("gw"):
    offset = int(WORKER[2:])
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if os.environ.get(name, "").startswith("redis://"):
            os.environ[name] = _for_worker(os.environ[name], offset)
