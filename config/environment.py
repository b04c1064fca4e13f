"""How config/settings.py reads the environment: where the checkout is, and typed readers.

Only the settings module imports this; nothing else reads the environment.
"""

import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
# A development checkout keeps the secrets `make run` generated in .env, so that
# manage.py commands run by hand work there as the README shows them. An
# environment that sets SECRET_KEY is configured on its own: .env is not read.
if "SECRET_KEY" not in os.environ:
    load_dotenv(os.environ.get("COUNTERSIGN_ENV_FILE", BASE_DIR / ".env"), override=False)
VAR_DIR = Path(os.environ.get("COUNTERSIGN_VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]
