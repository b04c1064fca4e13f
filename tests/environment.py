"""What config/settings.py reads from an environment, asked of a process of its own."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setting_read_from(environment: dict[str, str], name: str, key: str | None = None):
    """Return the setting `name` (its `key`, for a dict) read from the test's environment
    with `environment` over it; a variable of the same name is left out of the test's."""
    variable = key or name
    expression = f"settings.{name}" + (f"[{key!r}]" if key else "")
    code = (
        "import django, json; from django.conf import settings; django.setup(); "
        f"print(json.dumps({expression}))"
    )
    base = {k: v for k, v in os.environ.items() if k != variable}
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
