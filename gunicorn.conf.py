"""gunicorn's settings for Countersign, read by any `gunicorn` started in this directory.

Sync workers, two per core by default (WEB_CONCURRENCY overrides): a gate
check waits on PostgreSQL three times, the longest for the commit that puts
its audit event on disk before the answer goes out, and a second worker per
core runs while the first waits. docs/performance.md has the measurements.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1))
# A worker silent this many seconds is killed (a request still running is cut off);
# an Idempotency-Key its request left unanswered is freed far later
# (IDEMPOTENCY_ABANDONED_SECONDS, config/settings.py).
timeout = 30
