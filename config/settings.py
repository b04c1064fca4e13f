"""Settings for Countersign, read from the environment in this one place (config/environment.py)."""

from datetime import timedelta
from urllib.parse import urlsplit

import dj_database_url

from config.environment import BASE_DIR, VAR_DIR, env, env_bool, env_int, env_list
from config.roles import REVIEWER_GROUPS

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY") or ("insecure-development-key-" + "x" * 40 if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off (see .env.example).")
# The keys SECRET_KEY replaced: sessions and signed cookies made under them still hold
# while they are listed (docs/operations.md, "Rotating secrets").
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "config.apps.CountersignAdminConfig",  # django.contrib.admin on the site of config.admin
    "django.contrib.auth",
    "django.contrib.contenttypes",
    # Its table holds the sessions of the engine before SESSION_ENGINE's (tokens 0007 empties it).
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "guardian",
    "django_celery_beat",
    "django_htmx",
    "api",
    "audit",
    "tokens",
    "agents",
    "signoffs",
    "approvals",
    "runtime",
    "outbox",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "audit.middleware.RequestIdMiddleware",
    "api.middleware.ApiBodyLimitMiddleware",
]
# The one limit on a request body, in bytes: an API request over it is refused
# with 413 before it is parsed, whatever its content type.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BODY_BYTES", 5 * 1024 * 1024)

# The benchmark harness (bench/run.py) serves its reference views beside the app's, without
# sign-in; `check --deploy` refuses it (config/checks.py).
BENCH_VIEWS = env_bool("BENCH_VIEWS", False)
ROOT_URLCONF = "bench.urls" if BENCH_VIEWS else "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'countersign.sqlite3'}"),
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# On PostgreSQL statements are bound on the server, and prepared after this many
# uses on a connection, so the ones every request runs are not planned again; 0
# binds on the client (Django's default) and prepares nothing, for a pooler such
# as PgBouncer in transaction mode without prepared-statement support.
DB_PREPARE_THRESHOLD = env_int("DB_PREPARE_THRESHOLD", 3)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_PREPARE_THRESHOLD:
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=DB_PREPARE_THRESHOLD
    )
# SQLite (the embedded default) is written by the web process, the Celery worker
# and manage.py at once. A transaction takes the write lock when it begins, so one
# that reads before it writes waits its turn instead of failing with "database is
# locked"; readers go on beside a writer (write-ahead log).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE", timeout=20, init_command="PRAGMA journal_mode=WAL;"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Object permissions are given to people only, never to visitors who are not signed in:
# without this django-guardian adds a user row, "AnonymousUser", that every list and
# count of people would show (identity's migration 0002 removes one made before).
ANONYMOUS_USER_NAME = None
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security headers; production runs behind a TLS-terminating proxy.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds each exchange with the mail server may take: a server that accepts and never
# answers fails the attempt (retried later, docs/operations.md) instead of holding a worker.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "countersign@localhost")

# A Redis that refuses or hangs costs a request at most these seconds per cache call
# (redis-py would wait 5); throttles then let the request through (api/throttling.py).
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("REDIS_URL"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if env("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tokens.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["api.base.JsonParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "api.openapi.ApiSchema",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "gate": env("THROTTLE_GATE", "6000/min"),
        # A runtime asks before each tool call (a batch counts once).
        "decisions": env("THROTTLE_DECISIONS", "60000/min"),
        "writes": env("THROTTLE_WRITES", "600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Countersign API",
    "DESCRIPTION": "Runtime-scope approvals for AI agents: packages, sign-offs, release gate.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "runtime.api.schema.require_bodies",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PackageStateEnum": "approvals.models.PackageState",
        "SignOffStateEnum": "signoffs.models.SignOffState",
        "AgentStatusEnum": "agents.models.AgentStatus",
        "FindingStatusEnum": "approvals.models.FindingStatus",
        # Risk tiers and finding severities are the same four levels.
        "LevelEnum": "approvals.models.Severity",
        "DimensionEnum": "signoffs.models.Dimension",
        # The two dimensions whose approvals grant an emergency release.
        "EmergencyDimensionEnum": "approvals.models.EMERGENCY_DIMENSIONS",
        "SigningKeySourceEnum": "audit.signing.KEY_SOURCES",
        "TokenStateEnum": "tokens.models.TokenState",
    },
}

# Celery: Redis in production; with no broker configured, kombu's filesystem
# transport so that `make run` needs no server. No job's result is ever read (the
# database is the record of what a job did), so there is no result backend: a
# request that queues a job after its commit never waits on one.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # A request queues its notifications after its change commits; when Redis refuses,
    # or accepts and never answers, the send gives up within these seconds (times the
    # tries of CELERY_TASK_PUBLISH_RETRY_POLICY) and the outbox sweep sends later
    # (docs/operations.md, "When Redis or mail is down").
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}
# One retry, 0.2 s after the first try: a broker that is down stays down for longer.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# Domain settings.
COUNTERSIGN = {
    # Days an approval stays valid, by risk tier (docs/design.md, rule 5).
    "RECERTIFICATION_DAYS": {"critical": 30, "high": 90, "medium": 180, "low": 365},
    # A recertification review opens this many days ahead of expiry.
    "RECERTIFICATION_LEAD_DAYS": env_int("RECERTIFICATION_LEAD_DAYS", 14),
    # Approving decisions required per dimension, by risk tier.
    "REQUIRED_APPROVALS": {
        "critical": {"iam": 1, "pam": 1, "security": 2, "compliance": 1},
        "high": {"iam": 1, "pam": 1, "security": 1, "compliance": 1},
        "medium": {"iam": 1, "pam": 1, "security": 1, "compliance": 1},
        "low": {"iam": 1, "pam": 1, "security": 1, "compliance": 1},
    },
    # Review depth by risk tier: the checklist items, by dimension, that an agent on
    # the light path (every scope entry read-only, none privileged, no break-glass)
    # may leave unticked; PAM then attests there is no privileged pathway (PAM-1)
    # with a shorter list. High and critical always keep every item (approvals.depth).
    "REVIEW_DEPTH": {
        "critical": {},
        "high": {},
        "medium": {},
        "low": {
            "pam": ["PAM-2", "PAM-4", "PAM-5"],
            "security": ["SEC-3", "SEC-6"],
            "compliance": ["CMP-5", "CMP-6"],
        },
    },
    # High and critical packages need a kill-switch test this recent.
    "KILL_SWITCH_TEST_MAX_AGE_DAYS": env_int("KILL_SWITCH_TEST_MAX_AGE_DAYS", 90),
    # A customer-facing agent is at least high tier until the decision point has answered
    # its enforcement point within this many days (approvals.manifest.risk).
    "ENFORCEMENT_PROVEN_DAYS": env_int("ENFORCEMENT_PROVEN_DAYS", 14),
    "TOKEN_PEPPER": env("TOKEN_PEPPER") or SECRET_KEY,
    # While rotating TOKEN_PEPPER: the peppers it replaced, comma-separated; the tokens made
    # under them still authenticate (docs/operations.md, "Rotating secrets").
    "TOKEN_PEPPER_FALLBACKS": env_list("TOKEN_PEPPER_FALLBACKS"),
    "SIGNING_KEY_PATH": env("SIGNING_KEY_PATH", str(VAR_DIR / "signing-key.pem")),
    "SIGNING_KEY": env("SIGNING_KEY"),
    # Public keys (PEM, one block after another) of signing keys rotated out: the
    # checkpoints they signed are still checked with them (docs/operations.md).
    "RETIRED_SIGNING_PUBLIC_KEYS": env("RETIRED_SIGNING_PUBLIC_KEYS"),
    "SUSPEND_ON_CRITICAL_DRIFT": env_bool("SUSPEND_ON_CRITICAL_DRIFT", True),
    # Days a sign-off may wait for its decision before it is escalated and drawn as late:
    # REVIEW_SLA_DAYS for every dimension, REVIEW_SLA_DAYS_<DIMENSION> (e.g. _COMPLIANCE)
    # where one has its own (read through signoffs.sla).
    "REVIEW_SLA_DAYS": env_int("REVIEW_SLA_DAYS", 5),
    "REVIEW_SLA_DAYS_BY_DIMENSION": {
        dimension: env_int(f"REVIEW_SLA_DAYS_{dimension.upper()}", 0)
        for dimension in REVIEWER_GROUPS
        if env(f"REVIEW_SLA_DAYS_{dimension.upper()}").strip()
    },
    # The address people open Countersign at: links in notification mails start with it.
    "SITE_URL": env("SITE_URL", "http://localhost:8000").rstrip("/"),
    # Hours an emergency approval lets a package ship while its full review runs.
    "EMERGENCY_APPROVAL_HOURS": env_int("EMERGENCY_APPROVAL_HOURS", 72),
    "WEBHOOK_URLS": env_list("WEBHOOK_URLS"),
    "WEBHOOK_SECRET": env("WEBHOOK_SECRET") or SECRET_KEY,
    # While rotating WEBHOOK_SECRET: the secrets it replaced, comma-separated; each webhook
    # carries a signature under each of them as well (docs/api.md, "Webhooks").
    "WEBHOOK_SECRET_FALLBACKS": env_list("WEBHOOK_SECRET_FALLBACKS"),
    "WEBHOOK_TIMEOUT_SECONDS": env_int("WEBHOOK_TIMEOUT_SECONDS", 5),
    # A failing webhook is retried after BACKOFF, 2*BACKOFF, 4*BACKOFF... seconds
    # (capped at an hour) until it has been tried MAX_ATTEMPTS times.
    "WEBHOOK_MAX_ATTEMPTS": env_int("WEBHOOK_MAX_ATTEMPTS", 6),
    "WEBHOOK_BACKOFF_SECONDS": env_int("WEBHOOK_BACKOFF_SECONDS", 30),
    # A notification mail that fails is tried again after BACKOFF, 2*BACKOFF... seconds
    # (capped at an hour), at most MAX_ATTEMPTS times in all (about two hours by default).
    "MAIL_MAX_ATTEMPTS": env_int("MAIL_MAX_ATTEMPTS", 8),
    "MAIL_BACKOFF_SECONDS": env_int("MAIL_BACKOFF_SECONDS", 60),
    # An Idempotency-Key claimed by a request that left no answer this many seconds
    # later is taken to be abandoned (its process was killed; gunicorn kills a worker
    # after gunicorn.conf.py's `timeout`), and a retry with the key runs again.
    "IDEMPOTENCY_ABANDONED_SECONDS": env_int("IDEMPOTENCY_ABANDONED_SECONDS", 300),
    # Days sign-in logs and sent notifications are kept (docs/operations.md, "Housekeeping").
    "SIGN_IN_LOG_DAYS": env_int("SIGN_IN_LOG_DAYS", 180),
    "NOTIFICATION_DAYS": env_int("NOTIFICATION_DAYS", 90),
    # Risk tiers suspended on an open critical drift finding (if SUSPEND_ON_CRITICAL_DRIFT).
    "SUSPEND_ON_CRITICAL_DRIFT_TIERS": env_list("SUSPEND_ON_CRITICAL_DRIFT_TIERS", "critical"),
    # Agents evaluated per drift batch: one set-based statement per batch.
    "DRIFT_BATCH_SIZE": env_int("DRIFT_BATCH_SIZE", 1000),
    # Where runtime decisions count usage until the flush job folds it into observations
    # (runtime/usage.py); without Redis, usage is not counted.
    "USAGE_REDIS_URL": env("REDIS_URL"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}

SESSION_COOKIE_AGE = int(timedelta(hours=12).total_seconds())
# Django's database engine on a model that names each session's user in an indexed
# column, so one user's sessions are found without reading everyone's.
SESSION_ENGINE = "tokens.sessions"

# Operations: the client address behind proxies, the sign-in lockout, the
# Content-Security-Policy, the health endpoint and the deployment checks
# (config/checks.py). One block, extending the lists above.

# How many proxies in front of the app append the address they were called from
# to X-Forwarded-For; 0 trusts only the connection's own address (REMOTE_ADDR),
# since a client can write any X-Forwarded-For it likes.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

INSTALLED_APPS += ["axes", "csp", "config"]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", *AUTHENTICATION_BACKENDS]
MIDDLEWARE = [
    # First: load balancers and compose call a container by its own address over
    # plain HTTP, which host validation and the HTTPS redirect would refuse.
    "config.health.HealthCheckMiddleware",
    *MIDDLEWARE,
    "config.csp.DocumentCSPMiddleware",
    # Last, as axes requires: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Sign-in lockout (django-axes), for the site's and the admin's sign-in alike.
# Failures are counted per client address: a password spray over many usernames
# from one address is stopped, and nobody elsewhere can lock a user out. The
# attempts are kept in the database, which signing in needs anyway, and not in
# the cache, so signing in keeps working while Redis is down.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
# A success leaves the address's failures counted: a spray holding one valid
# password would otherwise reset its own count.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "config.clients.client_address"
AXES_LOCKOUT_CALLABLE = "web.views.login.locked_out"
# No banner from every process that starts (web workers, Celery, commands).
AXES_VERBOSE = False

# Content-Security-Policy (django-csp), sent with HTML answers (config/csp.py):
# scripts, styles and everything else come from the app's own origin; no inline
# script or style, no eval, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}


# Sign-in: local passwords and single sign-on through an OpenID Connect provider
# (the identity app; README "Single sign-on (OIDC)"). OIDC is on when an issuer and
# a client id are set; its endpoints come from the issuer's discovery document
# unless set here one by one.

# Local password sign-in, for `make run`'s demo and break-glass admin; 0 refuses it
# on the sign-in page and the admin's alike.
LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)
# A decision, the kill switch and a new API token need a sign-in this recent, in seconds.
STEP_UP_SECONDS = env_int("STEP_UP_SECONDS", 900)

OIDC_ISSUER = env("OIDC_ISSUER").rstrip("/")
OIDC_RP_CLIENT_ID = env("OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env("OIDC_CLIENT_SECRET")
OIDC_ENABLED = bool(OIDC_ISSUER and OIDC_RP_CLIENT_ID)
OIDC_PROVIDER_NAME = env("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_OP_AUTHORIZATION_ENDPOINT = env("OIDC_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env("OIDC_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env("OIDC_USERINFO_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env("OIDC_JWKS_ENDPOINT")
OIDC_OP_LOGOUT_ENDPOINT = env("OIDC_END_SESSION_ENDPOINT")
OIDC_RP_SIGN_ALGO = env("OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env("OIDC_SCOPES", "openid email profile")
# The client authenticates at the token endpoint with HTTP Basic (client_secret_basic,
# the standard's default); 0 sends the secret in the form (client_secret_post).
OIDC_TOKEN_USE_BASIC_AUTH = env_bool("OIDC_TOKEN_BASIC_AUTH", True)
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10)
# Seconds of clock difference with the provider tolerated on ID token times.
OIDC_LEEWAY_SECONDS = env_int("OIDC_LEEWAY_SECONDS", 30)
# The claim naming the user's groups at the provider, and what each group grants here:
# "provider-group=target" pairs, comma-separated, a target being a role group
# (config/roles.py), `staff`, or `team:<slug>`. Empty: each role group of the same name.
OIDC_GROUPS_CLAIM = env("OIDC_GROUPS_CLAIM", "groups")
OIDC_GROUP_MAP = env("OIDC_GROUP_MAP")
# The claim a new user's username comes from (then email, then sub).
OIDC_USERNAME_CLAIM = env("OIDC_USERNAME_CLAIM", "preferred_username")
# An OIDC session's rights are renewed from the provider (its refresh token and
# userinfo) when they are this many seconds old; a refusal there signs the user out.
# 0, the default: on every request, so a group lost at the provider is lost at the next one.
OIDC_RENEW_SECONDS = env_int("OIDC_RENEW_SECONDS", 0)
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc-callback"
LOGIN_REDIRECT_URL_FAILURE = "login"

if OIDC_ENABLED:
    # Signing out (a form) and signing in again for a decision (a form's redirect) end at
    # the provider: the policy's form-action lets a form's navigation go there.
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"] += sorted(
        {
            "{0.scheme}://{0.netloc}".format(urlsplit(url))
            for url in (OIDC_ISSUER, OIDC_OP_AUTHORIZATION_ENDPOINT, OIDC_OP_LOGOUT_ENDPOINT)
            if url
        }
    )

# Ahead of django.contrib.auth: manage.py runs identity's audited createsuperuser/changepassword.
INSTALLED_APPS.insert(INSTALLED_APPS.index("django.contrib.auth"), "identity")
AUTHENTICATION_BACKENDS = [
    "identity.backends.LocalPasswordBackend"
    if backend == "django.contrib.auth.backends.ModelBackend"
    else backend
    for backend in AUTHENTICATION_BACKENDS
]
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS += ["identity.oidc.ProviderBackend"]
# After the authentication and messages middleware: it renews an OIDC session's rights
# before any view, and says so when it ends the session.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
    "identity.middleware.ProviderRenewalMiddleware",
)
