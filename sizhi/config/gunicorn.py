"""gunicorn settings of the production profile (`make serve-prod`, docs/deploy.md).

    gunicorn -c python:sizhi.config.gunicorn sizhi.config.wsgi:application

Every value can be changed from the environment (listed with its default in .env.example). The
access log goes to stdout and never holds a query string, a tracking code or a client address:
a tracking code is the only credential of an anonymous reporter, and an address next to the time
of an anonymous report would undo the rule that such reports keep no IP (docs/SECURITY.md).
"""

from __future__ import annotations

import multiprocessing
import os
import re
from typing import Any

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in {"1", "true", "yes", "on"}


bind = os.environ.get("SIZHI_BIND", "127.0.0.1:8000")
# The work is mostly waiting on PostgreSQL, so a few processes per core, each with a few threads.
workers = _int("SIZHI_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1)
threads = _int("SIZHI_WEB_THREADS", 2)
worker_class = "gthread"  # keeps HTTP keep-alive connections (a load balancer reuses them)
# A request still running after this many seconds is a bug or a stuck query: the worker is
# killed and replaced. Photo uploads (≤ 9 × 10 MB) arrive through the proxy's buffer first.
timeout = _int("SIZHI_WEB_TIMEOUT", 30)
graceful_timeout = _int("SIZHI_WEB_GRACEFUL_TIMEOUT", 30)
# Above the proxy's idle timeout would be wrong way round; 5 s suits nginx's default 60 s upstream
# keep-alive because gunicorn closes first and the proxy simply opens a new connection.
keepalive = _int("SIZHI_WEB_KEEPALIVE", 5)
# Recycle each worker after this many requests (± jitter so they do not all restart at once):
# caps the growth of anything a long-lived process accumulates.
max_requests = _int("SIZHI_WEB_MAX_REQUESTS", 2000)
max_requests_jitter = _int("SIZHI_WEB_MAX_REQUESTS_JITTER", 200)
# Load Django once in the master and fork: workers share the code pages and start at once. Safe
# because no connection survives the fork (see pre_fork); set 0 to reload code on SIGHUP.
preload_app = _bool("SIZHI_WEB_PRELOAD", True)
# Heartbeat files in memory: a slow disk must never make the arbiter think a worker hung.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# Only the load balancer's addresses may set X-Forwarded-Proto.
forwarded_allow_ips = os.environ.get("SIZHI_FORWARDED_ALLOW_IPS", "127.0.0.1")
# The rate limits key on REMOTE_ADDR, which behind a load balancer is the balancer itself.
# With the PROXY protocol (HAProxy send-proxy, nginx stream proxy_protocol on, most cloud
# balancers) gunicorn takes the real client address from the balancer, and only from the
# addresses listed here. Values: off, v1, v2, auto.
proxy_protocol = os.environ.get("SIZHI_PROXY_PROTOCOL", "off")
proxy_allow_ips = forwarded_allow_ips
# gunicorn 27's control socket sits at one path per user: two instances on a machine would fight
# over it, and nothing here uses it.
control_socket_disable = True
limit_request_line = 4094
limit_request_fields = 100

accesslog = "-" if _bool("SIZHI_ACCESS_LOG", True) else None
errorlog = "-"
loglevel = os.environ.get("SIZHI_GUNICORN_LOG_LEVEL", "info")
# method, path (redacted, no query), status, bytes, duration in ms, <worker pid>.
access_log_format = '"%(m)s %(U)s" %(s)s %(B)s %(M)sms %(p)s'
logger_class = "sizhi.config.gunicorn.RedactingLogger"

# Path segments after these hold secrets: tracking codes (/track/<code>/, /api/v1/track/<code>/…,
# Open311 /tokens/<token>), the mailbox's letter codes, password-reset tokens.
_SECRET_AFTER = frozenset({"track", "tokens", "letters", "reset", "invite", "confirm"})
# Any other segment that looks like a random token (≥ 20 URL-safe characters with lower case,
# so case numbers such as LY2026112700000001 stay readable).
_TOKEN_LIKE = re.compile(r"^(?=.*[a-z])[A-Za-z0-9_-]{20,}$")
REDACTED = "…"


def redact_path(path: str) -> str:
    parts = path.split("/")
    out: list[str] = []
    hide_next = False
    for part in parts:
        if part and (hide_next or _TOKEN_LIKE.match(part)):
            out.append(REDACTED)
        else:
            out.append(part)
        hide_next = part.lower() in _SECRET_AFTER
    return "/".join(out)


class RedactingLogger(Logger):
    """gunicorn's logger with the request line, query string, referer and user agent removed
    from every atom a format could use."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = redact_path(environ.get("PATH_INFO", ""))
        atoms.update(
            U=path, q="", r=f"{environ.get('REQUEST_METHOD', '-')} {path} {environ.get('SERVER_PROTOCOL', '-')}",
            f="-", a="-", h="-", u="-", l="-",
        )
        # Headers ({referer}i, {user-agent}i, …) and the raw environ ({raw_uri}e) are not logged.
        return {key: value for key, value in atoms.items() if not key.startswith("{")}


def pre_fork(server: Any, worker: Any) -> None:
    """Runs in the master before each fork: a database connection opened while the app loaded
    must not be shared by two processes (their queries would interleave on one socket)."""
    if preload_app:
        from django.db import connections

        connections.close_all()
