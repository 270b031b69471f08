#!/usr/bin/env bash
# The production profile on one machine (`make serve-prod`): PostgreSQL, Redis, gunicorn and the
# huey worker. Reads .env (or $SIZHI_ENV_FILE) when present; .env.example lists every variable.
# Without one it runs against the local PostgreSQL and Redis on plain HTTP (see the defaults below).
#
# Steps: create the database when it does not exist, migrate, collectstatic, then start the web
# server and the background worker together. Ctrl-C (or SIGTERM) stops both; when either exits
# by itself the other is stopped too and the script fails. Nothing is left running.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${SIZHI_VENV:-.venv}/bin"
ENV_FILE="${SIZHI_ENV_FILE:-.env}"
if [ -f "$ENV_FILE" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  set +a
fi

# Local defaults: the machine's own PostgreSQL and Redis.
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/sizhi}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export SIZHI_DEBUG="${SIZHI_DEBUG:-0}"
export SIZHI_STATIC_MANIFEST="${SIZHI_STATIC_MANIFEST:-1}"
export SIZHI_BIND="${SIZHI_BIND:-127.0.0.1:8000}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-sizhi.config.settings}"
# Plain HTTP on this machine only: the browser would refuse secure cookies and follow HTTPS
# redirects to nowhere. Behind TLS (docs/deploy.md) these stay at their safe defaults — leave
# them out of the real .env.
export SIZHI_SSL_REDIRECT="${SIZHI_SSL_REDIRECT:-0}"
export SIZHI_COOKIE_SECURE="${SIZHI_COOKIE_SECURE:-0}"
export SIZHI_HSTS_SECONDS="${SIZHI_HSTS_SECONDS:-0}"
export PYTHONUNBUFFERED=1

log() { printf '[serve-prod] %s\n' "$*" >&2; }

# No key given: one made on first start and kept (mode 600) under the data folder, so that
# sessions survive a restart. A real deployment sets SIZHI_SECRET_KEY, the same on every node.
if [ -z "${SIZHI_SECRET_KEY:-}" ]; then
  key_file="${SIZHI_DATA_DIR:-var}/secret_key"
  if [ ! -s "$key_file" ]; then
    mkdir -p "$(dirname "$key_file")"
    (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$key_file")
    log "made a secret key in $key_file"
  fi
  SIZHI_SECRET_KEY="$(cat "$key_file")"
  export SIZHI_SECRET_KEY
  # Personal data is encrypted with keys derived from this one unless SIZHI_FIELD_KEYS is set:
  # every other command on this database must use the same key.
  log "no SIZHI_SECRET_KEY given: using the one in $key_file; run other commands on this database"
  log "with the same key, e.g. SIZHI_SECRET_KEY=\$(cat $key_file) .venv/bin/sizhi demo load"
fi

if [ "$SIZHI_DEBUG" != "0" ]; then
  log "SIZHI_DEBUG must be 0 in the production profile"
  exit 2
fi

"$BIN/python" scripts/prod_db.py create
log "migrate"
"$BIN/sizhi" migrate --noinput -v 0
log "collectstatic"
"$BIN/sizhi" collectstatic --noinput -v 0

WEB_PID=""
WORKER_PID=""
stopping=0

stop_all() {
  stopping=1
  # gunicorn: TERM is the graceful stop (finish requests within graceful_timeout).
  # huey: INT is the graceful stop (finish the running tasks); TERM would abandon them.
  [ -n "$WEB_PID" ] && kill -TERM "$WEB_PID" 2>/dev/null || true
  [ -n "$WORKER_PID" ] && kill -INT "$WORKER_PID" 2>/dev/null || true
  for _ in $(seq 40); do
    alive=0
    for pid in $WEB_PID $WORKER_PID; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  for pid in $WEB_PID $WORKER_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      log "process $pid did not stop in 20 s: killed"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
}

on_signal() {
  log "stopping web server and worker"
  stop_all
  exit 0
}
trap on_signal INT TERM
trap '[ "$stopping" = 1 ] || stop_all' EXIT

# setsid: Ctrl-C reaches only this script, which then stops each child its own graceful way.
# SIZHI_GUNICORN_CONFIG: another config file that builds on this one (bench/wrk/gunicorn_bench.py).
setsid "$BIN/gunicorn" -c "${SIZHI_GUNICORN_CONFIG:-python:sizhi.config.gunicorn}" sizhi.config.wsgi:application &
WEB_PID=$!
# shellcheck disable=SC2086
setsid "$BIN/sizhi" run_huey ${SIZHI_WORKER_ARGS:-} &
WORKER_PID=$!
# For a caller that must be sure nothing outlives it (scripts/prod_smoke.sh, bench/intake.py).
[ -n "${SIZHI_PID_FILE:-}" ] && echo "$WEB_PID $WORKER_PID" >"$SIZHI_PID_FILE"
log "web (gunicorn, pid $WEB_PID) on http://$SIZHI_BIND/ and worker (huey, pid $WORKER_PID) started; Ctrl-C stops both"

# Whichever stops first ends the profile: a web server without its worker (or the reverse) would
# accept work nobody does.
status=0
wait -n "$WEB_PID" "$WORKER_PID" || status=$?
if [ "$stopping" = 0 ]; then
  log "a process exited by itself (status $status): stopping the other"
  stop_all
  exit $(( status == 0 ? 1 : status ))
fi
