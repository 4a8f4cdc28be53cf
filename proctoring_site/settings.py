"""Django settings. The environment is read here, once; every other module reads `django.conf.settings`."""

from __future__ import annotations

import math
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from proctoring.core.redaction import redacted_url
from proctoring_site import env as env_module
from proctoring_site import secret_checks
from proctoring_site.redis_config import (
    channel_layer_host,
    redis_shards,
    redis_url,
    rq_connection,
    sentinel_config,
    tls_options,
)

# Lets admin classes be written as ModelAdmin[Model] for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
# templates/ and static/: beside the packages in a checkout (and an editable install), inside
# proctoring_site/ once a built wheel is installed (setup.py puts them there).
_PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_DIR = _PACKAGE_DIR if (_PACKAGE_DIR / "templates").is_dir() else BASE_DIR
env = env_module.load(BASE_DIR)

DEBUG = env.bool("DJANGO_DEBUG", False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
if not DEBUG:
    # It signs sessions and camera tokens: a known key forges either, for any attempt.
    secret_checks.check_secret_key(SECRET_KEY)
elif not SECRET_KEY:
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# Served over HTTPS (the default outside development): secure cookies, redirect plain HTTP, and
# HSTS for DJANGO_HSTS_SECONDS (an hour by default: raise it once HTTPS is known to work
# everywhere, as browsers remember it). Behind a proxy that terminates TLS and sets
# X-Forwarded-Proto, set DJANGO_BEHIND_TLS_PROXY=true (never otherwise: clients could forge it).
HTTPS = env.bool("DJANGO_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", 3600, minimum=0) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", False)
# Preloading is a submission to the browsers' lists, hard to undo: a decision for whoever owns
# the domain, so it is off unless asked for, and Django's reminder about it is not shown.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if env.bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # Before django_rq, so that its `rqworker` command (which always runs the scheduler) wins.
    "proctoring",
    "django_rq",
    "exams",
    # The REST API (proctoring/api/): its framework, its OpenAPI schema, and the schema's docs
    # page served from the sidecar's static files (no CDN).
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # LTI 1.3 launches from learning platforms (proctoring/lti/): its registrations and keys.
    "proctoring.lti",
]

MIDDLEWARE = [
    # /healthz and /readyz, answered before the host check and the HTTPS redirect (probers come
    # by address over plain HTTP).
    "proctoring_site.health.probe_middleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Lets the audit log name who changed a permission (recorded from model signals).
    "proctoring.results.audit.request_middleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "proctoring_site.urls"
ASGI_APPLICATION = "proctoring_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SHIPPED_DIR / "templates"],
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

_database_url = env.str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
try:
    # Kept open between uses (workers store results all the time), checked before reuse.
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=600, conn_health_checks=True)}
except Exception as exc:  # dj-database-url raises several kinds for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL ({exc}), got {_database_url!r}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not an in-memory database, so that workers and servers started by the tests see it.
    DATABASES["default"]["TEST"] = {"NAME": f"{DATABASES['default']['NAME']}.test"}
    # WAL lets the web server read while workers write, and synchronous=NORMAL makes a commit
    # cost no fsync (durable at the next checkpoint): many worker threads store results at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [SHIPPED_DIR / "static"]
# Where `collectstatic` copies them for the web server (nginx) to serve.
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", VAR_DIR / "static")
# daphne serves no static files itself; in development the ASGI app does (see asgi.py).
SERVE_STATIC = env.bool("DJANGO_SERVE_STATIC", DEBUG)

# --- Redis: one address for the queue and the channel layer -------------------------------------
# REDIS_SENTINELS (host:port,…) instead of an address: every client asks the sentinels for the
# current primary of REDIS_SENTINEL_MASTER, and follows it when they fail over.
REDIS_SENTINEL = sentinel_config(env)
# REDIS_SHARDS (url,url,…): independent Redis primaries, each client's frames on one of them (a
# hash of its id); REDIS_SHARD is this process's own (a worker serves that shard's queue). The
# channel layer, connection limits and the gateway's figures live on the first.
REDIS_SHARDS = redis_shards(env)
REDIS_SHARD = env.int("REDIS_SHARD", 0, minimum=0, maximum=max(len(REDIS_SHARDS) - 1, 0))
if REDIS_SHARDS:
    REDIS_URL = REDIS_SHARDS[REDIS_SHARD]
else:
    REDIS_URL = REDIS_SENTINEL.url if REDIS_SENTINEL else redis_url(env)
# Over TLS (rediss://): the certificate checks every client makes, with REDIS_TLS_CA_FILE's CA.
REDIS_TLS_OPTIONS = tls_options(env, REDIS_URL)
# A frame is acked only once this many replicas hold it (WAIT, up to REDIS_WAIT_TIMEOUT seconds;
# else the client is told `unavailable`): with Sentinel, an acked frame then survives the loss
# of the primary. 0: acked once the primary holds it.
REDIS_WAIT_REPLICAS = env.int("REDIS_WAIT_REPLICAS", 0, minimum=0, maximum=16)
REDIS_WAIT_TIMEOUT = env.float("REDIS_WAIT_TIMEOUT", 0.5, minimum=0.01, maximum=10)

# Queues of small background jobs (the attempts' deadlines, `exams.jobs`; the webhooks'
# deliveries, `proctoring.webhooks`), beside the frames' queue: plain RQ queues and workers, run
# by `manage.py backgroundworker` (a process of their own; a queue added here is served by it),
# so a slow webhook receiver never holds a frame up. `exams` comes first: a worker takes from
# its queues in order, so a deadline waits for one webhook call at most. They live on the first
# shard, which every process agrees on.
BACKGROUND_QUEUES = ("exams", "webhooks")
BACKGROUND_REDIS_URL = REDIS_SHARDS[0] if REDIS_SHARDS else REDIS_URL
RQ_QUEUES = {
    "proctoring": rq_connection(REDIS_SENTINEL, REDIS_URL, REDIS_TLS_OPTIONS),
    **{
        name: {
            **rq_connection(REDIS_SENTINEL, BACKGROUND_REDIS_URL, REDIS_TLS_OPTIONS),
            "QUEUE_CLASS": "django_rq.queues.DjangoRQ",
        }
        for name in BACKGROUND_QUEUES
    },
}
RQ = {
    # Enqueue at once, never deferred to a DB commit: the gateway acks only what Redis holds.
    "COMMIT_MODE": "auto",
    # Retries on time (see proctoring/worker/workers.py).
    "QUEUE_CLASS": "proctoring.queue.rq_queue.ProctoringQueue",
    "WORKER_CLASS": "proctoring.worker.workers.ProctoringWorker",
}
# django-rq's admin dashboard checks only is_staff and its actions bypass our counts and the
# audit log: not registered with the admin, mounted by proctoring_site/urls.py for superusers.
RQ_SHOW_ADMIN_LINK = False
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels-redis blocks up to 5 s per read (BZPOPMIN); redis-py 8's default 5 s socket
        # timeout would end that read first and kill every consumer with 1011 (channels_redis
        # #422). Give reads a margin instead of no timeout, so a dead Redis is still noticed.
        "CONFIG": {
            "hosts": [
                channel_layer_host(
                    REDIS_SENTINEL,
                    REDIS_SHARDS[0] if REDIS_SHARDS else REDIS_URL,
                    REDIS_TLS_OPTIONS,
                    socket_timeout=30,
                    socket_connect_timeout=5,
                )
            ]
        },
    },
}

# --- The proctoring pipeline -------------------------------------------------------------------
PROCTORING_API_URL = env.str("PROCTORING_API_URL")
if not PROCTORING_API_URL:
    if not DEBUG:
        raise ImproperlyConfigured("PROCTORING_API_URL must be set when DJANGO_DEBUG is off")
    PROCTORING_API_URL = "http://127.0.0.1:8000/reference-api/v1/analyze"
if not PROCTORING_API_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"PROCTORING_API_URL must be an http(s) URL, got {redacted_url(PROCTORING_API_URL)!r}"
    )
PROCTORING_API_KEY = env.str("PROCTORING_API_KEY")
PROCTORING_API_TIMEOUT = env.float("PROCTORING_API_TIMEOUT", 10.0, minimum=0.1, maximum=300)
PROCTORING_JOB_ATTEMPTS = env.int("PROCTORING_JOB_ATTEMPTS", 3, minimum=1, maximum=20)
PROCTORING_BACKOFF_SECONDS = env.int("PROCTORING_BACKOFF_SECONDS", 2, minimum=0, maximum=3600)
PROCTORING_MAX_PENDING_PER_CLIENT = env.int("PROCTORING_MAX_PENDING_PER_CLIENT", 10, minimum=1)
PROCTORING_MAX_FRAME_BYTES = env.int("PROCTORING_MAX_FRAME_BYTES", 1024 * 1024, minimum=1024)
# The largest frame accepted, in pixels (width × height), read from the image's header: a small
# file can claim a huge picture that the API would spend seconds and hundreds of MB decoding.
# Webcams send 640×480 to 1920×1080 (the default).
PROCTORING_MAX_FRAME_PIXELS = env.int(
    "PROCTORING_MAX_FRAME_PIXELS", 1920 * 1080, minimum=64 * 64, maximum=8192 * 8192
)
# A client's `captured_at` is believed only from this many seconds before to this many after the
# gateway received the frame; any other time is replaced by the receive time, and counted.
PROCTORING_CAPTURED_AT_WINDOW = env.interval(
    "PROCTORING_CAPTURED_AT_WINDOW", (-10.0, 2.0), minimum=-3600, maximum=3600
)
# Overload: at most this many frames wait in the queue (all clients together); past it frames
# are refused with `queue_full`, and from a quarter of it on clients are asked to slow down.
PROCTORING_MAX_QUEUED = env.int("PROCTORING_MAX_QUEUED", 5000, minimum=1)
# A camera socket that sends nothing for this many seconds is closed (4408); 0 never closes one.
PROCTORING_IDLE_TIMEOUT = env.float("PROCTORING_IDLE_TIMEOUT", 60.0, minimum=0, maximum=86400)
# A gateway's event loop that does not wake for this long is logged with what it was running
# (proctoring.gateway.loop_lag); 0 turns the log (not the measurement) off.
PROCTORING_LOOP_STALL_MS = env.float("PROCTORING_LOOP_STALL_MS", 100.0, minimum=0, maximum=60000)
# Camera sockets open at once, across every gateway: from one IP address (a school behind one NAT
# is many takers: keep it generous) and for one attempt (2: a reconnect may overlap the old socket
# until it is noticed dead). Past either, a new socket is closed with 4429. 0: no limit.
PROCTORING_MAX_CONNECTIONS_PER_IP = env.int("PROCTORING_MAX_CONNECTIONS_PER_IP", 500, minimum=0)
PROCTORING_MAX_CONNECTIONS_PER_ATTEMPT = env.int("PROCTORING_MAX_CONNECTIONS_PER_ATTEMPT", 2, minimum=0)
# Frames per second the exam page sends when the queue keeps up.
PROCTORING_CLIENT_FPS = env.float("PROCTORING_CLIENT_FPS", 2.0, minimum=0.1, maximum=30)
# A frame's live window (seconds since the gateway took it, time paused left out): a frame older
# than this when a worker takes it is late, sent as backfill (after live frames, marked late) until
# PROCTORING_BACKFILL_HORIZON seconds, past which it is dropped and recorded (the admin's expired
# list). 0 treats every frame as live. A frame taken back from a dead worker (counted
# `recovered`) or retried by an operator is sent however old.
PROCTORING_MAX_FRAME_AGE = env.float("PROCTORING_MAX_FRAME_AGE", 30.0, minimum=0)
PROCTORING_BACKFILL_HORIZON = env.float("PROCTORING_BACKFILL_HORIZON", 900.0, minimum=0, maximum=7 * 86400)
# The API's circuit breaker: after this many consecutive failed calls (unreachable, timeout,
# 5xx, 429) workers take no job for PROCTORING_BREAKER_COOLDOWN seconds, then let one through as
# a probe. 0 turns the breaker off.
PROCTORING_BREAKER_THRESHOLD = env.int("PROCTORING_BREAKER_THRESHOLD", 5, minimum=0, maximum=10000)
PROCTORING_BREAKER_COOLDOWN = env.int("PROCTORING_BREAKER_COOLDOWN", 10, minimum=1, maximum=3600)
# A job a worker takes is its own for this long (seconds), renewed six times a lease while it
# runs: a job whose worker died (kill -9, a lost machine) is retried within about this long
# (plus a look and a backoff), and sent however old it is by then.
PROCTORING_JOB_LEASE_SECONDS = env.int("PROCTORING_JOB_LEASE_SECONDS", 15, minimum=3, maximum=3600)
# Jobs one `rqworker proctoring` process runs at once (threads; each mostly waits for the API).
PROCTORING_WORKER_CONCURRENCY = env.int("PROCTORING_WORKER_CONCURRENCY", 64, minimum=1, maximum=512)
# The order in which workers take waiting frames: "fair" visits the clients with frames waiting
# in turn (one frame of each, round-robin), so that a client sending ten frames a second does not
# delay one sending two; "fifo" takes them in arrival order.
PROCTORING_QUEUE_ORDER = env.choice("PROCTORING_QUEUE_ORDER", ("fair", "fifo"), "fair")
# In fair order, a client in its priority window (after a flagged result, see below) gets this
# many frames per turn instead of one: an open incident is watched more closely.
PROCTORING_FAIR_FLAGGED_WEIGHT = env.int("PROCTORING_FAIR_FLAGGED_WEIGHT", 2, minimum=1, maximum=20)
# In fair order, under backlog, this share of a worker's threads (percent; at least one thread
# when the worker has 4 or more) is kept free for the clients that are not behind, so that their
# frames start the moment they arrive instead of when a thread busy with the backlog frees up.
# It costs that share of the throughput only while both kinds of client are waiting.
PROCTORING_FAIR_RESERVE_PERCENT = env.int("PROCTORING_FAIR_RESERVE_PERCENT", 10, minimum=0, maximum=50)
# The reserve holds for this long (seconds) after the last frame of a client that is not behind
# (and from a worker's start): past it, every client is behind and every thread serves them.
# Longer than the gap between two frames of the slowest-sending client.
PROCTORING_FAIR_RESERVE_HOLD = env.int("PROCTORING_FAIR_RESERVE_HOLD", 2, minimum=1, maximum=600)
# "latest": a client's new frame takes the place of its oldest frame still waiting in the queue,
# which is dropped and counted `coalesced` (frames running or waiting to retry are kept): a proctor
# sees the present when the API falls behind. "" (default): every frame is sent.
PROCTORING_COALESCE = env.choice("PROCTORING_COALESCE", ("", "latest"), "")
# For this long after a flagged result (seconds; 0: never), a client's frames are queued ahead
# of normal ones, so that what follows an incident is seen first.
PROCTORING_PRIORITY_AFTER_FLAG = env.int("PROCTORING_PRIORITY_AFTER_FLAG", 30, minimum=0, maximum=3600)
# How often (seconds) the scheduler puts the per-client counts right from the jobs themselves, in
# case a job was deleted or ended behind the pipeline's back (django-rq's pages, RQ's cleanup).
PROCTORING_RECONCILE_SECONDS = env.int("PROCTORING_RECONCILE_SECONDS", 30, minimum=1, maximum=3600)
# Flagged frames of one kind less than this many seconds apart are one incident; a longer gap
# closes it, and the next flagged frame of that kind opens another.
PROCTORING_INCIDENT_GAP_SECONDS = env.float(
    "PROCTORING_INCIDENT_GAP_SECONDS", 10.0, minimum=0.5, maximum=3600
)
# false: workers keep no answers (no results, findings, incidents or snapshots): for measuring,
# or where the API keeps its answers itself.
PROCTORING_STORE_RESULTS = env.bool("PROCTORING_STORE_RESULTS", True)
# Days a frame's result and an incident's snapshot are kept (then `proctoring_purge` deletes them).
PROCTORING_RETENTION_DAYS = env.int("PROCTORING_RETENTION_DAYS", 30, minimum=1, maximum=3650)
# Days an audit entry (an action of staff) is kept; then `proctoring_purge` deletes it, and nothing
# else may.
PROCTORING_AUDIT_RETENTION_DAYS = env.int("PROCTORING_AUDIT_RETENTION_DAYS", 365, minimum=1, maximum=3650)
# Where incident snapshots (the only frame images kept) are written: never served publicly, only
# through staff views.
MEDIA_ROOT = env.str("PROCTORING_SNAPSHOT_DIR", str(VAR_DIR / "snapshots"))
# How long a finally failed job (frame bytes included) stays in the failed registry for inspection.
PROCTORING_FAILED_TTL = env.int("PROCTORING_FAILED_TTL", 7 * 24 * 3600, minimum=60)
# The image bytes kept with frames that failed for an outage (5xx, timeout), in all and per client:
# past either cap the oldest such images are dropped (their metadata stays). A frame the API
# refused (4xx) never keeps its image, so an exam taker cannot fill Redis with refused frames.
PROCTORING_FAILED_BYTES_MAX = env.int("PROCTORING_FAILED_BYTES_MAX", 256 * 1024 * 1024, minimum=0)
PROCTORING_FAILED_BYTES_PER_CLIENT = env.int("PROCTORING_FAILED_BYTES_PER_CLIENT", 8 * 1024 * 1024, minimum=0)
# A client whose frames the API keeps refusing (4xx, in a row, none delivered between) is asked to
# slow down after _TO_SLOW of them, and its frames are refused at the gateway (`frames_refused`)
# after _TO_BLOCK, until PROCTORING_REFUSAL_COOLDOWN seconds pass without another refusal
# (0 turns either off). Each refused frame costs an API call and a failed job's metadata.
PROCTORING_REFUSALS_TO_SLOW = env.int("PROCTORING_REFUSALS_TO_SLOW", 3, minimum=0)
PROCTORING_REFUSALS_TO_BLOCK = env.int("PROCTORING_REFUSALS_TO_BLOCK", 10, minimum=0)
PROCTORING_REFUSAL_COOLDOWN = env.int("PROCTORING_REFUSAL_COOLDOWN", 60, minimum=1, maximum=24 * 3600)
# How long a camera client's token stays valid (seconds); an ended attempt refuses it anyway.
PROCTORING_TOKEN_MAX_AGE = env.int("PROCTORING_TOKEN_MAX_AGE", 6 * 3600, minimum=60)
# The REST API: calls per clock minute per API key (429 past it), and how long the signed link
# to an incident's snapshot in its answers works (seconds).
PROCTORING_API_CALLS_PER_MINUTE = env.int("PROCTORING_API_CALLS_PER_MINUTE", 600, minimum=1)
PROCTORING_API_SNAPSHOT_LINK_SECONDS = env.int(
    "PROCTORING_API_SNAPSHOT_LINK_SECONDS", 300, minimum=10, maximum=24 * 3600
)
# Webhooks (proctoring/webhooks/, docs/integration.md#webhooks): the waits before each retry of
# a failed delivery (seconds; Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 10 h), the connect and read timeouts of one call, how long an endpoint may fail every attempt
# before it is disabled, whether plain http is allowed to hosts other than loopback (as in
# development), and how many endpoints one API key may register.
PROCTORING_WEBHOOK_RETRY_DELAYS = env.ints(
    "PROCTORING_WEBHOOK_RETRY_DELAYS",
    (5, 300, 1800, 7200, 18000, 36000, 36000),
    minimum=1,
    maximum=7 * 24 * 3600,
    most=20,
)
PROCTORING_WEBHOOK_CONNECT_TIMEOUT = env.float(
    "PROCTORING_WEBHOOK_CONNECT_TIMEOUT", 3.0, minimum=0.1, maximum=60
)
PROCTORING_WEBHOOK_TIMEOUT = env.float("PROCTORING_WEBHOOK_TIMEOUT", 10.0, minimum=0.1, maximum=60)
PROCTORING_WEBHOOK_DISABLE_AFTER = env.int(
    "PROCTORING_WEBHOOK_DISABLE_AFTER", 24 * 3600, minimum=60, maximum=30 * 24 * 3600
)
PROCTORING_WEBHOOK_ALLOW_HTTP = env.bool("PROCTORING_WEBHOOK_ALLOW_HTTP", DEBUG)
PROCTORING_WEBHOOKS_PER_KEY = env.int("PROCTORING_WEBHOOKS_PER_KEY", 10, minimum=1, maximum=100)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["proctoring.api.authentication.BearerKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["proctoring.api.authentication.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["proctoring.api.throttling.PerKeyThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "proctoring.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Proctoring pipeline API",
    "DESCRIPTION": "Open attempts for a platform's users, hand them a camera, end them, read incidents "
    "and the review queue. Guide: docs/integration.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# A bearer token that lets a monitoring system read /metrics and /proctoring/stats.json without
# a staff login ("Authorization: Bearer <token>"): aggregates only, no client rows. Empty: staff
# sessions only; short or a placeholder: start-up stops.
PROCTORING_STATS_TOKEN = env.str("PROCTORING_STATS_TOKEN")
secret_checks.check_stats_token(PROCTORING_STATS_TOKEN)
# The reference API (a development stand-in for the external service) is mounted at
# /reference-api/ only in development or when asked for (demos); it checks this key when set.
PROCTORING_REFERENCE_API = env.bool("PROCTORING_REFERENCE_API", DEBUG)
REFERENCE_API_KEY = env.str("REFERENCE_API_KEY", PROCTORING_API_KEY)
# The largest image it decodes (width × height, from the header): a larger one is refused with 413.
REFERENCE_API_MAX_PIXELS = env.int(
    "REFERENCE_API_MAX_PIXELS", PROCTORING_MAX_FRAME_PIXELS, minimum=64 * 64, maximum=8192 * 8192
)

# The largest WebSocket message the server must accept: a maximal frame sent as base64 in JSON.
# daphne closes the connection on anything larger, before our consumer could say why, so
# `make run` starts daphne with this cap (see proctoring_site/devstack.py and docs/protocol.md).
PROCTORING_MAX_MESSAGE_BYTES = 4 * math.ceil(PROCTORING_MAX_FRAME_BYTES / 3) * 2 + 64 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
