"""Kie Studio settings: one module, every knob read from the environment (see the README's table).

Development defaults make a fresh clone run (SQLite, the Kie simulator, local media). With ``DEBUG=false``
the studio refuses to start without what production needs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.csp import CSP

from kiestudio.env import EnvError, env_bool, env_float, env_int, env_list, env_secret, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("KIESTUDIO_VAR_DIR", str(BASE_DIR / "var")))

TESTING = env_bool("KIESTUDIO_TESTING", "pytest" in sys.modules)
DEBUG = env_bool("DEBUG", True)
DEBUG_PAGES = env_bool("DEBUG_PAGES", False)  # with DEBUG: Django's debug pages instead of the studio's 404 and 500
PRODUCTION = not DEBUG and not TESTING

# --- Core -------------------------------------------------------------------------------------------------

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"
SECRET_KEY = env_secret("SECRET_KEY", None if PRODUCTION else _DEV_SECRET_KEY, required=PRODUCTION)
assert SECRET_KEY is not None  # required in production, defaulted elsewhere
if PRODUCTION and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 40):
    raise EnvError("SECRET_KEY", "must be a random string of at least 40 characters in production.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise EnvError("ALLOWED_HOSTS", "is required in production (a comma-separated list of host names).")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Kie keys are stored encrypted with this key (any string; Fernet's key is derived from it). Older keys in
# FIELD_ENCRYPTION_KEY_FALLBACKS still decrypt, so the key can be rotated.
FIELD_ENCRYPTION_KEY = env_secret(
    "FIELD_ENCRYPTION_KEY", None if PRODUCTION else f"dev-field-key:{SECRET_KEY}", required=PRODUCTION
)
FIELD_ENCRYPTION_KEY_FALLBACKS = env_list("FIELD_ENCRYPTION_KEY_FALLBACKS")

PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "django_q",
    "allauth",
    "allauth.account",
    "kiestudio.core",
    "kiestudio.accounts",
    "kiestudio.workspaces",
    "kiestudio.usage",
    "kiestudio.uploads",
    "kiestudio.webhooks",
    "kiestudio.studio",
    "kiestudio.gallery",
    "kiestudio.chat",
    "kiestudio.batches",
    "kiestudio.agent",
    "kiestudio.sharing",
    "kiestudio.api",
    "kiestudio.mcp_server",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "kiestudio.core.middleware.ProductErrorPagesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "kiestudio.core.middleware.HtmxSignInMiddleware",
    "kiestudio.workspaces.middleware.CurrentWorkspaceMiddleware",
]

ROOT_URLCONF = "kiestudio.urls"
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
ASGI_APPLICATION = "kiestudio.asgi.application"
WSGI_APPLICATION = "kiestudio.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # Without runserver's autoreloader nothing would refresh the cached loader, so DEBUG reads templates
            # from disk every time (edits show at once under uvicorn) unless TEMPLATE_CACHE says otherwise.
            "loaders": (
                ["django.template.loaders.filesystem.Loader", "django.template.loaders.app_directories.Loader"]
                if not env_bool("TEMPLATE_CACHE", not DEBUG or TESTING)
                else [
                    (
                        "django.template.loaders.cached.Loader",
                        [
                            "django.template.loaders.filesystem.Loader",
                            "django.template.loaders.app_directories.Loader",
                        ],
                    )
                ]
            ),
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "kiestudio.workspaces.context_processors.workspace",
                "kiestudio.core.context_processors.studio",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------------

# WAL lets the web and worker processes read while one writes; IMMEDIATE takes the write lock at BEGIN, which is
# what stops "database is locked" under concurrent writers (see shared notes). Writers wait up to 20 s for the
# lock (sqlite3's busy timeout); a PRAGMA busy_timeout here would override it with something shorter.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
}
DATABASE_URL = env_str("DATABASE_URL")
DATABASES: dict[str, Any]
if DATABASE_URL:
    try:
        # Tests close connections after each request, so no thread keeps the test database open at teardown.
        DATABASES = {
            "default": dj_database_url.parse(DATABASE_URL, conn_max_age=0 if TESTING else 60, conn_health_checks=True)
        }
    except ValueError as exc:
        raise EnvError("DATABASE_URL", f"is not a database URL Django understands ({exc}).") from None
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        DATABASES["default"].update(OPTIONS=dict(SQLITE_OPTIONS), CONN_HEALTH_CHECKS=False)
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": dict(SQLITE_OPTIONS),
            "CONN_MAX_AGE": 0 if TESTING else 60,
            # Tests use a real file in WAL mode, like production: the in-memory database's shared cache
            # refuses concurrent writers outright instead of waiting, which no real deployment does.
            "TEST": {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
IS_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
# Web requests run their sync code on a pool of this many long-lived threads (see kiestudio/asgi.py), which keep
# their database connections between requests.
WEB_THREADS = env_int("WEB_THREADS", 16, minimum=0)

# --- Redis: cache, broker, rate limiter, stream fan-out ---------------------------------------------------

REDIS_URL = env_url("REDIS_URL", None, schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kiestudio"}}

Q_CLUSTER = {
    "name": "kiestudio",
    "workers": env_int("WORKER_CONCURRENCY", 4, minimum=1),
    "timeout": 120,
    # retry must exceed timeout, or an unacknowledged task is handed out again while it still runs.
    "retry": 180,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    # Successful task results are not stored (the database already records every generation's outcome);
    # failures are, for support. Bulk dequeues let one pusher keep several workers busy on the ORM broker.
    "save_limit": -1,
    "bulk": env_int("WORKER_BULK", 4, minimum=1),
    "poll": 0.05,
    "label": "Background jobs",
    "sync": TESTING and env_bool("KIESTUDIO_Q_SYNC", True),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Accounts (django-allauth) ----------------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "kiestudio.accounts.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_UNIQUE_EMAIL = True
# A taken email must be reported beside the field on sign-up, so enumeration prevention is off; login and
# password reset still answer the same way for known and unknown addresses.
ACCOUNT_PREVENT_ENUMERATION = False
ACCOUNT_FORMS = {"reset_password": "kiestudio.accounts.forms.ResetPasswordForm"}
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}

# --- Email ------------------------------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Kie Studio <studio@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_email_host = env_str("EMAIL_HOST")
if _email_host:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": env_int("EMAIL_PORT", 587, minimum=1, maximum=65535),
                "username": env_str("EMAIL_HOST_USER", ""),
                "password": env_secret("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 15,
            },
        }
    }
elif PRODUCTION:
    raise EnvError("EMAIL_HOST", "is required in production (password resets and invitations are sent by SMTP).")
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

# --- Kie --------------------------------------------------------------------------------------------------

KIE_API_KEY = env_secret("KIE_API_KEY")
KIE_SIMULATOR_PORT = env_int("KIE_SIMULATOR_PORT", 8765, minimum=1, maximum=65535)
# No key means the embedded simulator; setting KIE_API_KEY switches to the real Kie with no other change.
KIE_USE_SIMULATOR = KIE_API_KEY is None and not PRODUCTION
_kie_default_base = f"http://127.0.0.1:{KIE_SIMULATOR_PORT}" if KIE_USE_SIMULATOR else "https://api.kie.ai"
_kie_default_upload = f"http://127.0.0.1:{KIE_SIMULATOR_PORT}" if KIE_USE_SIMULATOR else "https://kieai.redpandaai.co"
KIE_BASE_URL = env_url("KIE_BASE_URL", _kie_default_base)
KIE_UPLOAD_BASE_URL = env_url("KIE_UPLOAD_BASE_URL", _kie_default_upload)
if KIE_USE_SIMULATOR:
    KIE_API_KEY = "simulator-key"
KIE_CREATE_LIMIT = env_int("KIE_CREATE_LIMIT", 20, minimum=1)
KIE_CREATE_WINDOW = env_float("KIE_CREATE_WINDOW", 10.0, minimum=0.1)
KIE_READ_LIMIT = env_int("KIE_READ_LIMIT", 10, minimum=1)
KIE_READ_WINDOW = env_float("KIE_READ_WINDOW", 1.0, minimum=0.1)
# Kie counts a request when it arrives, we count it when we reserve the slot: a small margin keeps the two apart.
KIE_RATE_MARGIN = env_float("KIE_RATE_MARGIN", 0.25, minimum=0.0)
KIE_WEBHOOK_HMAC_KEY = env_secret("KIE_WEBHOOK_HMAC_KEY")
KIE_TIMEOUT = env_float("KIE_TIMEOUT", 30.0, minimum=0.1)
# A chat model may think for minutes before its first token: the longest wait for the next piece of a reply.
KIE_CHAT_READ_TIMEOUT = env_float("KIE_CHAT_READ_TIMEOUT", 180.0, minimum=0.1)
# Kie POSTs to PUBLIC_BASE_URL/kie/callback/<token>/ when a task ends; the token authenticates the caller.
KIE_CALLBACKS = env_bool("KIE_CALLBACKS", True)
KIE_CALLBACK_TOKEN = (
    env_secret("KIE_CALLBACK_TOKEN")
    or hmac.new(SECRET_KEY.encode(), b"kie-callback-url", hashlib.sha256).hexdigest()[:40]
)
# Outbound fetches may only reach public addresses; the simulator on loopback is allowed here explicitly.
FETCH_ALLOWED_PRIVATE_HOSTS = env_list(
    "FETCH_ALLOWED_PRIVATE_HOSTS", [f"127.0.0.1:{KIE_SIMULATOR_PORT}"] if KIE_USE_SIMULATOR else []
)
# Outgoing webhooks: multiplies the retry delays (30 s, 2 min, 10 min, 1 h, 6 h, 24 h); tests use 0.
WEBHOOK_RETRY_SCALE = env_float("WEBHOOK_RETRY_SCALE", 1.0, minimum=0.0)

# --- Generation workers -----------------------------------------------------------------------------------

STUDIO_LEASE_SECONDS = env_int("STUDIO_LEASE_SECONDS", 90, minimum=2)
STUDIO_POLL_SCALE = env_float("STUDIO_POLL_SCALE", 1.0, minimum=0.0)
STUDIO_DISPATCH_SECONDS = env_float("STUDIO_DISPATCH_SECONDS", 25.0, minimum=1.0)
# Background work counts as stuck when the job dispatcher hasn't been seen for this long, or a due job has
# waited this long: /healthz then answers 503 and the worker supervisor (manage.py runworker) restarts its cluster.
STUDIO_STUCK_SECONDS = env_int("STUDIO_STUCK_SECONDS", 60, minimum=3)
# A worker cluster asked to stop (SIGTERM) is ended with SIGKILL if it hasn't stopped within this many seconds.
WORKER_STOP_SECONDS = env_float("WORKER_STOP_SECONDS", 20.0, minimum=1.0)

# --- Chat -------------------------------------------------------------------------------------------------

# Live replies save their text and a heartbeat this often; one silent for CHAT_STALE_SECONDS is marked interrupted.
CHAT_FLUSH_SECONDS = env_float("CHAT_FLUSH_SECONDS", 1.0, minimum=0.05)
CHAT_STALE_SECONDS = env_int("CHAT_STALE_SECONDS", 15, minimum=2)
# After a new conversation's first reply, the cheapest chat model names it (each workspace can turn this off in its
# settings; false turns it off for every workspace). Off under tests, which turn it on where they test it.
CHAT_AI_TITLES = env_bool("CHAT_AI_TITLES", not TESTING)
# What one chat turn (the creator's message and the tool rounds that follow it) may spend on generations.
AGENT_TURN_CEILING_CREDITS = env_float("AGENT_TURN_CEILING_CREDITS", 500.0, minimum=0)

# --- API (issue 22) ---------------------------------------------------------------------------------------

# Requests one API token may make per minute (over it: 429 with Retry-After).
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 60, minimum=1)

# --- Static and media -------------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
S3_BUCKET = env_str("S3_BUCKET")
if TESTING or DEBUG:
    _staticfiles_backend = "django.contrib.staticfiles.storage.StaticFilesStorage"
else:
    _staticfiles_backend = "whitenoise.storage.CompressedManifestStaticFilesStorage"
if S3_BUCKET:
    AWS_STORAGE_BUCKET_NAME = S3_BUCKET
    AWS_S3_ENDPOINT_URL = env_url("S3_ENDPOINT_URL")
    AWS_S3_REGION_NAME = env_str("S3_REGION", "us-east-1")
    AWS_S3_ACCESS_KEY_ID = env_secret("S3_ACCESS_KEY_ID")
    AWS_S3_SECRET_ACCESS_KEY = env_secret("S3_SECRET_ACCESS_KEY")
    AWS_S3_CUSTOM_DOMAIN = env_str("S3_CUSTOM_DOMAIN")
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = env_bool("S3_SIGNED_URLS", True)
    AWS_S3_FILE_OVERWRITE = False
    AWS_S3_SIGNATURE_VERSION = "s3v4"  # signed media URLs: SigV4, which every S3-compatible server accepts
    _media_backend = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    _media_backend = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {"default": _media_backend, "staticfiles": {"BACKEND": _staticfiles_backend}}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# --- Security ---------------------------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"


def _media_origins() -> list[str]:
    """Where media may come from besides us: the bucket's endpoint or custom domain (signed URLs redirect there)."""
    from urllib.parse import urlsplit

    origins = []
    if S3_BUCKET:
        if AWS_S3_CUSTOM_DOMAIN:
            origins.append(f"https://{AWS_S3_CUSTOM_DOMAIN}")
        if AWS_S3_ENDPOINT_URL:
            parts = urlsplit(AWS_S3_ENDPOINT_URL)
            origins.append(f"{parts.scheme}://{parts.netloc}")
            if any(c.isalpha() for c in parts.hostname or ""):  # virtual-hosted buckets: <bucket>.<endpoint>
                origins.append(f"{parts.scheme}://*.{parts.netloc}")
        else:
            origins.append(f"https://{S3_BUCKET}.s3.{AWS_S3_REGION_NAME}.amazonaws.com")
    return origins


# An enforced Content-Security-Policy (Django's own middleware). Scripts come only from our static files, each
# tag carrying the request's nonce; no inline script, no inline style, no eval (htmx's is switched off in
# base.html), nothing may frame us, and forms post only to us.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:", *_media_origins()],
    "media-src": [CSP.SELF, "blob:", *_media_origins()],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Internationalisation ---------------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Logging: one structured line per event on stdout, secrets redacted -----------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "kiestudio.core.logging.RedactSecretsFilter"}},
    "formatters": {"line": {"()": "kiestudio.core.logging.KeyValueFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "line",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django-q": {"level": "WARNING" if TESTING else "INFO"},
    },
}
