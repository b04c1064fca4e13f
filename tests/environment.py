"""What the settings make of an environment, asked of a process of its own."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_under(environment: dict[str, str], expression: str, *, cleared: str, imports: str = ""):
    """Return `expression` (JSON-compatible) in a Django process set up on an environment.

    The environment is the test's, without its variables whose names start with
    `cleared`, and with `environment` over it; `imports` runs after django.setup().
    """
    code = (
        "import django, json; from django.conf import settings; django.setup(); "
        f"{imports or 'pass'}; print(json.dumps({expression}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(cleared)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **environment},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
