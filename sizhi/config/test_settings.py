"""Settings for the test suite: the real settings with the background queue run inline and
fast password hashing. DATABASE_URL still chooses SQLite or PostgreSQL."""

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
