"""Settings for the test suite: the real settings with the background queue run inline and
fast password hashing. DATABASE_URL still chooses SQLite or PostgreSQL."""

import contextlib
import os
import time

from sizhi.config.settings import *  # noqa: F403

HUEY = {"huey_class": "huey.MemoryHuey", "name": "sizhi-test", "immediate": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SIZHI_SMS_BACKEND = "sizhi.notify.sms.LocmemSmsBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SIZHI_AUDIT_STRICT = True  # audit: a sensitive value in an audit detail is a bug, fail the test
# Staff tests sign in with client.login/force_login; sizhi.security tests switch the second factor on.
SIZHI_REQUIRE_TOTP = False
# The test client and the browser tests speak plain HTTP to the test server: no redirect to HTTPS
# and no Secure-only cookies (the header tests turn these on with override_settings).
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# privacy: every log record of the run (all loggers at DEBUG, SQL with its parameters included) goes
# to one file per process under var/test-logs/; sizhi/privacy/tests/test_log_leaks.py and the
# session-end check in sizhi/privacy/tests/conftest.py grep them for phone and ID-card numbers.
SIZHI_TEST_LOG_DIR = DATA_DIR / "test-logs"  # noqa: F405
SIZHI_TEST_LOG_FILE = SIZHI_TEST_LOG_DIR / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}.log"
SIZHI_LOG_SQL = True  # sizhi.privacy.apps: SQL is logged even though tests run with DEBUG off
SIZHI_TEST_LOG_DIR.mkdir(parents=True, exist_ok=True)
for _old in SIZHI_TEST_LOG_DIR.glob("*.log"):  # a few hours of runs are kept, not every run ever
    with contextlib.suppress(OSError):
        if time.time() - _old.stat().st_mtime > 3 * 3600:
            _old.unlink()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"full": {"format": "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "level": "INFO"},
        "test_file": {
            "class": "logging.FileHandler", "filename": str(SIZHI_TEST_LOG_FILE), "formatter": "full",
            "encoding": "utf-8", "delay": True,
        },
    },
    "root": {"handlers": ["console", "test_file"], "level": "DEBUG"},
    "loggers": {"django.db.backends": {"level": "DEBUG"}},
}
