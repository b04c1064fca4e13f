"""Deployment checks: `manage.py check --deploy` refuses settings fit only for a laptop.

Each is an error, so a deploy check fails on it at any `--fail-level`.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register

# Every placeholder secret in .env.example contains this.
PLACEHOLDER = "change-me"
# Caches that live in one process: each web process would count rate limits alone.
PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


def _secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": settings.SECRET_KEY,
        "TOKEN_PEPPER": settings.COUNTERSIGN["TOKEN_PEPPER"],
        "WEBHOOK_SECRET": settings.COUNTERSIGN["WEBHOOK_SECRET"],
    }


def _fallbacks() -> dict[str, list[str]]:
    """Return the secrets each secret replaced, still accepted while a rotation runs."""
    return {
        "SECRET_KEY_FALLBACKS": settings.SECRET_KEY_FALLBACKS,
        "TOKEN_PEPPER_FALLBACKS": settings.COUNTERSIGN["TOKEN_PEPPER_FALLBACKS"],
        "WEBHOOK_SECRET_FALLBACKS": settings.COUNTERSIGN["WEBHOOK_SECRET_FALLBACKS"],
    }


@register(Tags.security, deploy=True)
def check_secrets(app_configs, **kwargs):
    """Refuse the placeholder secrets, and secrets that fall back to SECRET_KEY."""
    secrets = _secrets()
    placeholders = [(name, "is") for name, value in secrets.items() if PLACEHOLDER in value.lower()]
    placeholders += [
        (name, "holds")
        for name, values in _fallbacks().items()
        if any(PLACEHOLDER in value.lower() for value in values)
    ]
    errors = [
        Error(
            f"{name} {verb} the placeholder of .env.example.",
            hint="Set it to a long random value, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
            id="countersign.E001",
        )
        for name, verb in placeholders
    ]
    # Webhook receivers hold the webhook secret, and the token pepper outlives a
    # SECRET_KEY rotation: neither may be SECRET_KEY itself.
    errors += [
        Error(
            f"{name} is not set, so SECRET_KEY stands in for it.",
            hint=f"Set {name} to a random value of its own.",
            id="countersign.E002",
        )
        for name in ("TOKEN_PEPPER", "WEBHOOK_SECRET")
        if secrets[name] == secrets["SECRET_KEY"]
    ]
    return errors


@register(Tags.security, deploy=True)
def check_allowed_hosts(app_configs, **kwargs):
    """Refuse ALLOWED_HOSTS=*: any Host header would be trusted, in links and redirects."""
    if "*" not in settings.ALLOWED_HOSTS:
        return []
    return [
        Error(
            "ALLOWED_HOSTS accepts any host ('*').",
            hint="List the names Countersign is served under. The health check "
            "needs none: /healthz answers before the host is checked.",
            id="countersign.E003",
        )
    ]


@register(Tags.security, deploy=True)
def check_signing_key(app_configs, **kwargs):
    """Refuse to sign evidence with a development key generated on first use."""
    if settings.COUNTERSIGN["SIGNING_KEY"]:
        return []
    return [
        Error(
            "SIGNING_KEY is not set: checkpoints and evidence bundles would be signed "
            "with a development key generated under var/, one per container, lost "
            "with it.",
            hint="Set SIGNING_KEY to an Ed25519 private key in PEM (PKCS#8), e.g. "
            "the output of `openssl genpkey -algorithm ed25519`, and publish its "
            "fingerprint (GET /api/v1/audit/public-key).",
            id="countersign.E004",
        )
    ]


@register(Tags.caches, deploy=True)
def check_shared_cache(app_configs, **kwargs):
    """Refuse a cache that each process keeps to itself."""
    if settings.CACHES["default"]["BACKEND"] not in PROCESS_LOCAL_CACHES:
        return []
    return [
        Error(
            "REDIS_URL is not set: the cache is each process's own memory, so every "
            "web process counts the API rate limits on its own.",
            hint="Set REDIS_URL to the Redis the web processes share.",
            id="countersign.E005",
        )
    ]


@register(Tags.security, deploy=True)
def check_bench_views(app_configs, **kwargs):
    """Refuse the benchmark's reference views: they answer anyone, signed in or not."""
    if not settings.BENCH_VIEWS:
        return []
    return [
        Error(
            "BENCH_VIEWS is on: /bench/ping and /bench/one-query/<pk> answer without sign-in.",
            hint="Unset BENCH_VIEWS; only the benchmark harness (bench/run.py) sets it.",
            id="countersign.E006",
        )
    ]
