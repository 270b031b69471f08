"""Settings for every deployment, read from environment variables (see .env.example).

The defaults are the embedded mode: SQLite in WAL mode, a SQLite-backed task queue,
local-memory cache and a local media folder, so `make run` needs no server.
"""

from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from sizhi.config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = BASE_DIR.parent
DATA_DIR = Path(env_str("SIZHI_DATA_DIR", str(PROJECT_DIR / "var")))
# The embedded database, queue and uploads live here; a fresh checkout has no such folder yet.
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("SIZHI_DEBUG", False)
# The fallback key only exists so that a fresh checkout runs; production must set its own.
SECRET_KEY = env_str("SIZHI_SECRET_KEY", "dev-insecure-sizhi-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = env_list("SIZHI_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("SIZHI_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "huey.contrib.djhuey",
    "sizhi.accounts",
    "sizhi.regions",
    "sizhi.units",
    "sizhi.cases",
    "sizhi.notify",
    "sizhi.workdays",
    "sizhi.web",
    "sizhi.demo",
    "sizhi.open311",
    "sizhi.api",
    "sizhi.insight",
    "sizhi.settingsui",
    "sizhi.audit",
    "sizhi.privacy",
    "sizhi.security",
    "sizhi.mailbox",
    "sizhi.ops",
    "sizhi.benchfloor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sizhi.audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "sizhi.security.middleware.StaffSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "sizhi.ops.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "sizhi.config.urls"
WSGI_APPLICATION = "sizhi.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "sizhi.web.context_processors.platform",
            ],
        },
    },
]

_default_db = f"sqlite:///{DATA_DIR / 'sizhi.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _default_db), conn_max_age=env_int("SIZHI_DB_CONN_MAX_AGE", 60)
    )
}
# A persistent connection is checked before each request reuses it, so a database restart costs
# no failed request; a connect attempt gives up after a few seconds (503) instead of hanging.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("SIZHI_DB_CONNECT_TIMEOUT", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server and the worker read while the other writes.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["sizhi.accounts.backends.PhoneOrUsernameBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:home"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# Front-end libraries come from the npm registry at set-up and are served from here, never a CDN.
NODE_MODULES_DIR = PROJECT_DIR / "node_modules"
STATICFILES_DIRS = [("vendor", NODE_MODULES_DIR)] if NODE_MODULES_DIR.exists() else []
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("SIZHI_MEDIA_ROOT", str(DATA_DIR / "media")))
# Production (SIZHI_STATIC_MANIFEST=1, after `sizhi collectstatic`): hashed, pre-compressed files
# that whitenoise serves with a ten-year immutable Cache-Control; other static files get
# SIZHI_STATIC_MAX_AGE seconds.
SIZHI_STATIC_MANIFEST = env_bool("SIZHI_STATIC_MANIFEST", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if SIZHI_STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_MAX_AGE = 0 if DEBUG else env_int("SIZHI_STATIC_MAX_AGE", 3600)
# The intake benchmark's floor view (sizhi.benchfloor) is mounted only when this is on; never in production.
SIZHI_BENCH_FLOOR = env_bool("SIZHI_BENCH_FLOOR", False)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
# Deployments sharing one Redis keep apart by key prefix and queue name (or a db number in the URL).
SIZHI_REDIS_PREFIX = env_str("SIZHI_REDIS_PREFIX", "sizhi")
# Every connect and every reply from Redis is bounded by this: a dead Redis refuses at once, but a
# hung one (or a network dropping packets) would hold a request for the TCP timeout. Beyond it the
# call counts as an outage and a fallback takes over (sizhi.ops.redis_outage, docs/deploy.md).
SIZHI_REDIS_TIMEOUT_MS = env_int("SIZHI_REDIS_TIMEOUT_MS", 500)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": SIZHI_REDIS_PREFIX,
            "OPTIONS": {
                "socket_connect_timeout": SIZHI_REDIS_TIMEOUT_MS / 1000,
                "socket_timeout": SIZHI_REDIS_TIMEOUT_MS / 1000,
            },
        }
    }
    HUEY = {
        # RedisHuey with bounded connections whose enqueue never fails a request (sizhi.ops.queue).
        "huey_class": "sizhi.ops.queue.ResilientRedisHuey",
        "name": SIZHI_REDIS_PREFIX,
        "url": REDIS_URL,
        "timeout_ms": SIZHI_REDIS_TIMEOUT_MS,
        "immediate": False,
        # Nothing reads a job's return value; stored, each would stay in Redis for ever.
        "results": False,
        "consumer": {"workers": env_int("SIZHI_WORKER_THREADS", 2), "worker_type": "thread"},
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "sizhi",
        "filename": str(DATA_DIR / "queue.sqlite3"),
        "immediate": env_bool("SIZHI_TASKS_IMMEDIATE", False),
        "consumer": {"workers": env_int("SIZHI_WORKER_THREADS", 2), "worker_type": "thread"},
    }

# --- transport and browser security (docs/security.md) -----------------------------------------
# Secure by default whenever DEBUG is off; each can be relaxed by its SIZHI_* variable, e.g. for
# `make serve-prod` over plain HTTP on 127.0.0.1 (SIZHI_SSL_REDIRECT=0 SIZHI_COOKIE_SECURE=0
# SIZHI_HSTS_SECONDS=0). `sizhi check --deploy` is clean with the defaults.
_SECURE_DEFAULT = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SIZHI_SSL_REDIRECT", _SECURE_DEFAULT)
SECURE_HSTS_SECONDS = env_int("SIZHI_HSTS_SECONDS", 31_536_000 if _SECURE_DEFAULT else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SIZHI_HSTS_INCLUDE_SUBDOMAINS", _SECURE_DEFAULT)
SECURE_HSTS_PRELOAD = env_bool("SIZHI_HSTS_PRELOAD", _SECURE_DEFAULT)
# Only behind a proxy that sets (and strips client copies of) the header: opt-in. "1" means the
# usual X-Forwarded-Proto: https; "HTTP_X_SOMETHING,value" names another header.
_proxy_ssl = env_list("SIZHI_PROXY_SSL_HEADER", [])
if _proxy_ssl == ["1"] or _proxy_ssl == ["true"]:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
elif len(_proxy_ssl) == 2:
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl[0], _proxy_ssl[1])
SESSION_COOKIE_HTTPONLY = True
# SIZHI_SECURE_COOKIES is the older name of SIZHI_COOKIE_SECURE, still read.
SESSION_COOKIE_SECURE = env_bool("SIZHI_COOKIE_SECURE", env_bool("SIZHI_SECURE_COOKIES", _SECURE_DEFAULT))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = env_str("SIZHI_REFERRER_POLICY", "same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = env_str("SIZHI_CROSS_ORIGIN_OPENER_POLICY", "same-origin")
# Content-Security-Policy (django-csp): scripts only from this site (no inline script anywhere),
# no <style> blocks from elsewhere. Inline style ATTRIBUTES are allowed (style-src-attr) because
# ECharts writes its tooltips and Leaflet its markers as HTML with style="…"; they cannot run code.
_tile_url = env_str("SIZHI_TILE_URL", "")
_tile_origin = "/".join(_tile_url.split("/")[:3]) if _tile_url.startswith(("https://", "http://")) else ""
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-elem": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *([_tile_origin] if _tile_origin else [])],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("SIZHI_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- platform settings -------------------------------------------------------------------------
# E-mail: printed to the console unless an SMTP server is configured.
EMAIL_BACKEND = env_str("SIZHI_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("SIZHI_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("SIZHI_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("SIZHI_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("SIZHI_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("SIZHI_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env_str("SIZHI_EMAIL_FROM", "sizhi@localhost")
SIZHI_SMS_BACKEND = env_str("SIZHI_SMS_BACKEND", "sizhi.notify.sms.ConsoleSmsBackend")
SIZHI_TILE_URL = env_str("SIZHI_TILE_URL", "")
SIZHI_TILE_ATTRIBUTION = env_str("SIZHI_TILE_ATTRIBUTION", "")
SIZHI_MAP_CENTER = (34.6197, 112.4540)  # 洛阳 city centre (lat, lng), the demo city
SIZHI_MAX_PHOTOS = env_int("SIZHI_MAX_PHOTOS", 9)
SIZHI_MAX_PHOTO_BYTES = env_int("SIZHI_MAX_PHOTO_BYTES", 10 * 1024 * 1024)
SIZHI_MAX_PHOTO_PIXELS = env_int("SIZHI_MAX_PHOTO_PIXELS", 40_000_000)
SIZHI_REOPEN_DAYS = env_int("SIZHI_REOPEN_DAYS", 7)
# Office hours on working days, for limits counted in working hours (签收时限).
SIZHI_OFFICE_HOURS = env_str("SIZHI_OFFICE_HOURS", "08:30-12:00,14:30-18:00")
# Share of the allowed working time after which an open case shows a yellow warning.
SIZHI_WARNING_SHARE = env_int("SIZHI_WARNING_PERCENT", 80) / 100
# After this many returns (退回) a case goes to the command centre for a ruling.
SIZHI_RETURNS_BEFORE_RULING = env_int("SIZHI_RETURNS_BEFORE_RULING", 2)
# A report from the same reporter, or at the same grid in the same category, within this many days is a repeat.
SIZHI_REPEAT_DAYS = env_int("SIZHI_REPEAT_DAYS", 30)
# Share of closed cases (with a named reporter) queued for a call-back (回访), in percent.
SIZHI_CALLBACK_PERCENT = env_int("SIZHI_CALLBACK_PERCENT", 20)
SIZHI_CASE_NUMBER_PREFIX = env_str("SIZHI_CASE_NUMBER_PREFIX", "LY")
# 约谈: a unit is summoned when its red-card overdue cases or its returns in the period reach these counts.
SIZHI_SUMMONS_OVERDUE = env_int("SIZHI_SUMMONS_OVERDUE", 5)
SIZHI_SUMMONS_RETURNS = env_int("SIZHI_SUMMONS_RETURNS", 5)
# Personal data at rest (sizhi.privacy.crypto): "id:base64key,..." (current first), the blind-index key,
# and the cipher (aes-256-gcm or sm4-gcm). Empty = keys derived from SECRET_KEY (development only).
SIZHI_FIELD_KEYS = env_str("SIZHI_FIELD_KEYS", "")
SIZHI_INDEX_KEY = env_str("SIZHI_INDEX_KEY", "")
SIZHI_FIELD_CIPHER = env_str("SIZHI_FIELD_CIPHER", "aes-256-gcm")
# Staff sign-in (sizhi.security): a second factor (TOTP), idle and absolute session limits.
SIZHI_REQUIRE_TOTP = env_bool("SIZHI_REQUIRE_TOTP", True)
SIZHI_STAFF_IDLE_MINUTES = env_int("SIZHI_STAFF_IDLE_MINUTES", 30)
SIZHI_STAFF_MAX_HOURS = env_int("SIZHI_STAFF_MAX_HOURS", 12)
# The login page shows the demo accounts' current TOTP code: only ever with DEBUG on (`make run`).
SIZHI_DEMO_HINTS = DEBUG and env_bool("SIZHI_DEMO_HINTS", True)
