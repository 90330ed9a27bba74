"""CommunityOS settings: one module, driven by the environment (and an optional `.env` file).

Every variable is documented in README.md and `.env.example`.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
# Templates and static files are package data of community_os (community_os/templates and
# community_os/static), so an installed wheel has them as a checkout does.
PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# pytest (8.2+) sets PYTEST_VERSION while it runs; tests must not depend on a developer's .env.
TESTING = "PYTEST_VERSION" in os.environ
if not TESTING:
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    # A fresh random key per process: sessions do not outlive a restart, nothing is guessable.
    SECRET_KEY = get_random_secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "template_partials",
    "csp",
    "axes",
    # django-ninja: the REST API's framework (api/); listed for its Swagger UI template and
    # static files, served from here rather than a CDN.
    "ninja",
    "community_os",
    "members",
    "engagement",
    "platforms",
    "signup",
    "segments",
    "webhooks",
    "api",
    "notifications",
    "demo",
]

MIDDLEWARE = [
    # First: every log line of the request carries its id (community_os/logs.py).
    "community_os.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Every request's statements run under the web limits below (community_os/database.py).
    "community_os.database.RequestLimitsMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "community_os.urls"
WSGI_APPLICATION = "community_os.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Listed first (APP_DIRS finds them too), so they win over contrib apps' templates of
        # the same name, as django.contrib.admin comes before community_os in INSTALLED_APPS.
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "members.context_processors.communities",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# community_os/static is found by the app directories finder (community_os is an installed app).
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
WHITENOISE_USE_FINDERS = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploaded import files are kept in the default storage (below MEDIA_ROOT with the default
# FileSystemStorage; set another backend in STORAGES for several machines) until the job is
# done, then for IMPORT_FILE_RETENTION_DAYS, for its report (members/jobs.py).
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = "media/"  # never served: files are read back through the views that check access
IMPORT_MAX_FILE_BYTES = env.int("IMPORT_MAX_FILE_BYTES", default=200 * 1024 * 1024)
IMPORT_FILE_RETENTION_DAYS = env.int("IMPORT_FILE_RETENTION_DAYS", default=7)
# An import job's task stops after this many seconds; below the broker's visibility timeout
# (3600 s), so a long import is never delivered to a second worker while it runs.
IMPORT_TASK_TIME_LIMIT = 3300
# Uploaded CSV files are streamed from a temporary file, never held whole in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Email (Django's backends, from one EMAIL_URL through django-environ): the join page's
# confirmation links, invitations, password resets, review reminders, digests and import
# results (notifications/). consolemail:// (the default) writes each message to the process's
# output; smtp+tls://user:password@host:587 (or smtp+ssl://...:465, smtp://host:25) sends it.
# Tests use the locmem backend (pytest-django sets it).
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
EMAIL_PORT = _email["EMAIL_PORT"] or (465 if EMAIL_USE_SSL else 587 if EMAIL_USE_TLS else 25)
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_URL asks for both TLS and SSL: choose one.")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CommunityOS <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The site's origin as people open it: every link in an email starts with it (https in
# production: the one-click unsubscribe of RFC 8058 must be https).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Password reset (notifications/): how long a link works, and how many requests one address
# and one client address may make in an hour (more are answered alike and mail nothing).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_MINUTES", default=60) * 60
PASSWORD_RESET_EMAIL_LIMIT = env.int("PASSWORD_RESET_EMAIL_LIMIT", default=3)
PASSWORD_RESET_IP_LIMIT = env.int("PASSWORD_RESET_IP_LIMIT", default=20)
if min(PASSWORD_RESET_TIMEOUT, PASSWORD_RESET_EMAIL_LIMIT, PASSWORD_RESET_IP_LIMIT) < 1:
    raise ImproperlyConfigured(
        "PASSWORD_RESET_MINUTES, PASSWORD_RESET_EMAIL_LIMIT and PASSWORD_RESET_IP_LIMIT must each "
        "be at least 1."
    )

# The join page (signup/): how long a confirmation link works, and the rate limits: at most
# SIGNUP_EMAIL_LIMIT requests per address (on any community) and SIGNUP_IP_LIMIT per client
# address within SIGNUP_RATE_WINDOW_MINUTES; more are answered alike and mail nothing.
SIGNUP_CONFIRM_HOURS = env.int("SIGNUP_CONFIRM_HOURS", default=48)
SIGNUP_RATE_WINDOW_MINUTES = env.int("SIGNUP_RATE_WINDOW_MINUTES", default=60)
SIGNUP_EMAIL_LIMIT = env.int("SIGNUP_EMAIL_LIMIT", default=3)
SIGNUP_IP_LIMIT = env.int("SIGNUP_IP_LIMIT", default=30)
if min(SIGNUP_CONFIRM_HOURS, SIGNUP_RATE_WINDOW_MINUTES, SIGNUP_EMAIL_LIMIT, SIGNUP_IP_LIMIT) < 1:
    raise ImproperlyConfigured(
        "SIGNUP_CONFIRM_HOURS, SIGNUP_RATE_WINDOW_MINUTES, SIGNUP_EMAIL_LIMIT and SIGNUP_IP_LIMIT "
        "must each be at least 1."
    )

# Content-Security-Policy (django-csp): nothing inline, nothing from elsewhere. The templates
# have no inline script or style; htmx is configured for it (base.html: no indicator styles,
# no eval, no script tags in swapped content).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from
# one address, that pair waits out the cool-off; a success resets the count. Never permanent.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The username axes records, bounded to what an account can have (community_os/login.py).
AXES_USERNAME_CALLABLE = "community_os.login.throttled_username"
# The proxies in front of the site: the client's address is then read from X-Forwarded-For,
# through django-ipware, as the proxies wrote it (community_os/login.py); 0 is REMOTE_ADDR. The
# join page's per-address limit asks axes for the address too.
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "community_os.login.client_ip"
# Failed-login attempts and login records are deleted after this many days (beat, below).
AXES_KEEP_DAYS = env.int("AXES_KEEP_DAYS", default=30)
if AXES_IPWARE_PROXY_COUNT < 0 or AXES_KEEP_DAYS < 1:
    raise ImproperlyConfigured(
        "AXES_IPWARE_PROXY_COUNT must be 0 or more and AXES_KEEP_DAYS at least 1."
    )

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and env.bool("HTTPS", default=False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Celery: Redis when REDIS_URL (or CELERY_BROKER_URL) is set, otherwise kombu's filesystem
# transport in var/celery-broker so `make run` needs nothing installed.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_DIR = VAR_DIR / "celery-broker"
# Django's cache, shared by every process (the REST API's rate limit counts in it, api/auth.py):
# Redis when REDIS_URL is set; else files in var/cache, which every process of one machine
# shares with no service to run (as the filesystem broker does), unlike the per-process local
# memory cache, and with no table to create, unlike the database cache.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "communityos",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": "communityos",
        }
    }

if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Above the longest task's hard time limit, so a slow task is not delivered twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Keep a task running through a broker reconnect (Celery 6 will cancel it by default); acks_late
# and the segment row lock make either choice safe, this one wastes less work.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 900
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Engagement scores of every community are recomputed this often.
SCORING_INTERVAL_MINUTES = env.int("SCORING_INTERVAL_MINUTES", default=60)
if SCORING_INTERVAL_MINUTES < 1:
    raise ImproperlyConfigured("SCORING_INTERVAL_MINUTES must be at least 1.")
# Health (community_os/health.py): beat sends a heartbeat task this often, and /healthz is 503
# when beat's sending or a worker's running it is older than HEALTH_STALE_SECONDS.
HEALTH_HEARTBEAT_SECONDS = env.int("HEALTH_HEARTBEAT_SECONDS", default=30)
HEALTH_STALE_SECONDS = env.int("HEALTH_STALE_SECONDS", default=120)
if not 1 <= HEALTH_HEARTBEAT_SECONDS < HEALTH_STALE_SECONDS:
    raise ImproperlyConfigured(
        "HEALTH_HEARTBEAT_SECONDS must be at least 1 and below HEALTH_STALE_SECONDS."
    )
# Webhooks (webhooks/transport.py): deliveries go to public addresses only; these networks
# (comma-separated addresses or CIDR ranges, e.g. "10.20.0.0/16") may be reached anyway, for a
# receiver inside the same private network. Cloud metadata addresses are refused regardless.
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.list("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=[])
for _network in WEBHOOK_ALLOW_PRIVATE_HOSTS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(f"WEBHOOK_ALLOW_PRIVATE_HOSTS: {_error}") from None
# Delivered and failed deliveries are kept in the endpoints' logs this many days.
WEBHOOK_LOG_DAYS = env.int("WEBHOOK_LOG_DAYS", default=30)
if WEBHOOK_LOG_DAYS < 1:
    raise ImproperlyConfigured("WEBHOOK_LOG_DAYS must be at least 1.")
# Periodic jobs join this schedule as the apps that own them land; each sets `expires`.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Proof that beat sends and a worker runs (community_os/health.py); a heartbeat that waited
    # longer than its interval is dropped, so a restarted worker does not run a backlog of them.
    "heartbeat": {
        "task": "community_os.tasks.heartbeat",
        "schedule": timedelta(seconds=HEALTH_HEARTBEAT_SECONDS),
        "options": {"expires": HEALTH_HEARTBEAT_SECONDS},
    },
    # Housekeeping: expired sessions, and axes' login records older than AXES_KEEP_DAYS.
    "clear-sessions": {
        "task": "community_os.tasks.clear_sessions",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3500},
    },
    "delete-old-login-records": {
        "task": "community_os.tasks.delete_old_login_records",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3500},
    },
    "score-all-communities": {
        "task": "engagement.tasks.score_all_communities",
        "schedule": timedelta(minutes=SCORING_INTERVAL_MINUTES),
        # A sweep still queued when the next one is due is dropped.
        "options": {"expires": SCORING_INTERVAL_MINUTES * 60},
    },
    # Smart segments older than their community's refresh interval are refreshed: rules with
    # relative dates ("joined in the last 7 days") change with time alone.
    "sweep-segments": {
        "task": "segments.tasks.sweep_segments",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # Import jobs that could not be enqueued (the broker was down), jobs whose worker died, and
    # import files and reports past their retention.
    "sweep-import-jobs": {
        "task": "members.tasks.sweep_import_jobs",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # Rescores that could not be enqueued when asked for (the broker was down).
    "score-waiting-communities": {
        "task": "engagement.tasks.score_waiting_communities",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # Webhooks: outbox rows whose task was lost, deliveries whose next attempt is due (retries
    # are stored on the delivery, so a lost task or a restarted worker only delays them), and
    # log entries past WEBHOOK_LOG_DAYS.
    "sweep-webhooks": {
        "task": "webhooks.tasks.sweep_webhooks",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # Join page signups whose link is used or expired and that no longer count for the rate
    # limit: their answers are not kept longer than that (signup/services.py).
    "sweep-pending-signups": {
        "task": "signup.tasks.sweep_pending_signups",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3500},
    },
    # Emails (notifications/services.py). Review reminders of manual segments that became due;
    # digests of watched segments, each at 8:00 in its community's time zone: every quarter of
    # an hour, so that zones half or three quarters of an hour off UTC get theirs at 8:00 too
    # (a run sends only what is due and is recorded, so running often costs nothing).
    "send-review-reminders": {
        "task": "notifications.tasks.send_review_reminders",
        "schedule": timedelta(minutes=15),
        "options": {"expires": 840},
    },
    "send-digests": {
        "task": "notifications.tasks.send_digests",
        "schedule": timedelta(minutes=15),
        "options": {"expires": 840},
    },
    # The password reset rate limit's old records; invitations that ended a month ago.
    "sweep-notifications": {
        "task": "notifications.tasks.sweep_notifications",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3500},
    },
}

# Every line has time, level, logger, request id and task id (community_os/logs.py): plain
# text, or one JSON object per line with LOG_FORMAT=json. Workers and beat use it too.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "community_os.logs.ContextFilter"}},
    "formatters": {
        "text": {"()": "community_os.logs.TextFormatter"},
        "json": {"()": "community_os.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Replace Django's own handlers (which would print every message a second time, and
    # runserver's lines in another format) with ours.
    "loggers": {
        "django": {"handlers": ["console"], "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Errors to Sentry (sentry-sdk, Django and Celery integrations, no personal data), only when
# SENTRY_DSN is set.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from community_os.logs import init_sentry

    init_sentry(
        SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# What one web request may ask of the database (community_os/database.py), in seconds: a
# statement running longer is stopped and the user told so (503), never left running.
WEB_STATEMENT_TIMEOUT = env.float("WEB_STATEMENT_TIMEOUT", default=8.0)
# The table's "Count all" counts every match, which at a million members takes longer.
COUNT_ALL_STATEMENT_TIMEOUT = env.float("COUNT_ALL_STATEMENT_TIMEOUT", default=30.0)
# A CSV export reads 2,000 members per statement; each may take this long.
EXPORT_STATEMENT_TIMEOUT = env.float("EXPORT_STATEMENT_TIMEOUT", default=30.0)

# Browsing pages of the community table.
MEMBERS_PAGE_SIZE = 50
# The table counts at most this many matches; beyond it shows "10,000+" and a "Count all" link.
MEMBERS_COUNT_CAP = 10_000
# ... and at most this many when two or more filters are combined (a pill and a date, say):
# no index gives their common matches, so counting reads many candidates per match (a pill of 1
# member in 40 with a filter matching 4 in 10: 23 candidates per match, 58 ms to count 10,000).
MEMBERS_COMBINED_COUNT_CAP = 1_000

# The REST API (api/): each token (or browser session) may make API_RATE_LIMIT requests per
# API_RATE_WINDOW_SECONDS; beyond that it gets 429 with Retry-After.
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=600)
API_RATE_WINDOW_SECONDS = env.int("API_RATE_WINDOW_SECONDS", default=60)
if API_RATE_LIMIT < 1 or API_RATE_WINDOW_SECONDS < 1:
    raise ImproperlyConfigured("API_RATE_LIMIT and API_RATE_WINDOW_SECONDS must be at least 1.")
