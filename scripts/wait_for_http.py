"""Wait until a URL answers 200 (at most a minute); exit 0 when it does, 1 when it does not.

`scripts/run.sh` uses it to announce the server only once it serves.
"""

import sys
import time
import urllib.error
import urllib.request

DEADLINE_SECONDS = 60
INTERVAL_SECONDS = 0.2


def main(url: str) -> int:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
                if response.status == 200:
                    return 0
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(INTERVAL_SECONDS)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
