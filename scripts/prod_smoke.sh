#!/usr/bin/env bash
# Smoke test of the production profile (scripts/serve_prod.sh, what `make serve-prod` runs):
# gunicorn + the huey worker on the machine's PostgreSQL (127.0.0.1:5432, its own database
# sizhi_prod_smoke, created and dropped here) and Redis (127.0.0.1:6379, db 11, keys prefixed
# sizhi_prod_smoke, removed here). Takes one case from an anonymous report to closing over HTTP
# (scripts/prod_smoke.py), checks that the worker delivered the dispatch's messages, that a hashed
# static file carries a long cache header and that the access log never shows the tracking code,
# then stops everything. Any failure prints the server log and fails; nothing is left running.
#
#   bash scripts/prod_smoke.sh          # from the repository root, after `make setup`
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
WORK="$(mktemp -d -t sizhi-prod-smoke.XXXXXX)"
SERVER_PID=""

export SIZHI_ENV_FILE=/dev/null   # a developer's own .env must not leak into the test
export DATABASE_URL="${PROD_SMOKE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/sizhi_prod_smoke}"
export REDIS_URL="${PROD_SMOKE_REDIS_URL:-redis://127.0.0.1:6379/11}"
export SIZHI_REDIS_PREFIX=sizhi_prod_smoke
export SIZHI_DATA_DIR="$WORK/data"
export SIZHI_MEDIA_ROOT="$WORK/media"
export SIZHI_WEB_WORKERS=2
export SIZHI_PID_FILE="$WORK/pids"
# One key for the server and the seeding helper: personal data (phone numbers) is encrypted with
# keys derived from it, and a process with another key could not read what the other wrote.
SIZHI_SECRET_KEY="$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(50))')"
export SIZHI_SECRET_KEY
export SIZHI_LOG_LEVEL=WARNING
export DJANGO_SETTINGS_MODULE=sizhi.config.settings
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset SIZHI_DEBUG

PORT="$($BIN/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export SIZHI_BIND="127.0.0.1:$PORT"
BASE="http://127.0.0.1:$PORT"

fail() {
  echo "prod_smoke: FAILED: $*" >&2
  if [ -f "$WORK/server.log" ]; then
    echo "--- server log (last 150 lines) ---" >&2
    tail -n 150 "$WORK/server.log" >&2
    echo "--- end of server log ---" >&2
  fi
  exit 1
}

cleanup() {
  local status=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  # The supervisor stops its children; should it have been killed itself, they go here.
  if [ -f "$SIZHI_PID_FILE" ]; then
    for pid in $(cat "$SIZHI_PID_FILE"); do
      if kill -0 "$pid" 2>/dev/null; then
        echo "prod_smoke: process $pid still running after the server stopped: killed" >&2
        kill -KILL "$pid" 2>/dev/null || true
        status=1
      fi
    done
  fi
  $BIN/python scripts/prod_db.py drop || status=1
  $BIN/python scripts/prod_db.py redis-clean || status=1
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_isready -h 127.0.0.1 -p 5432 -q || fail "PostgreSQL is not answering on 127.0.0.1:5432"
redis_up() { $BIN/python -c "import os, redis; redis.Redis.from_url(os.environ['REDIS_URL']).ping()" 2>/dev/null; }
# Like .ci/run does for PostgreSQL: start the machine's Redis when it is installed but not running.
if ! redis_up && command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 >/dev/null
  for _ in $(seq 20); do redis_up && break; sleep 0.5; done
fi
redis_up || fail "Redis is not answering at $REDIS_URL"
# Left over from an interrupted run: start clean.
$BIN/python scripts/prod_db.py drop
$BIN/python scripts/prod_db.py redis-clean

started=$(date +%s)
bash scripts/serve_prod.sh >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

ready=0
for _ in $(seq 360); do
  if $BIN/python -c "import urllib.request; urllib.request.urlopen('$BASE/api/v1/openapi.json', timeout=2)" 2>/dev/null; then
    ready=1
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || fail "the production profile exited while starting"
  sleep 0.5
done
[ "$ready" = 1 ] || fail "the production profile did not answer within 180 s"
echo "prod_smoke: up after $(( $(date +%s) - started )) s (migrate, collectstatic, gunicorn, huey)"

$BIN/python scripts/prod_smoke_seed.py >"$WORK/seed.json" 2>"$WORK/seed.err" \
  || { cat "$WORK/seed.err" >&2; fail "seeding the test world"; }
$BIN/python scripts/prod_smoke.py "$BASE" "$WORK/seed.json" "$WORK/code" || fail "smoke steps"

code="$(cat "$WORK/code")"
if grep -qF "$code" "$WORK/server.log"; then
  fail "the tracking code appears in the server log"
fi
if ! grep -q '"POST /api/v1/track/…/rate" 200' "$WORK/server.log"; then
  fail "the access log has no redacted line for the rating by tracking code"
fi
grep -q "Traceback" "$WORK/server.log" && fail "a traceback in the server log"

# A clean stop: the supervisor stops gunicorn and huey within its 20 s and exits 0.
kill -TERM "$SERVER_PID"
stop_status=0
wait "$SERVER_PID" || stop_status=$?
SERVER_PID=""
[ "$stop_status" = 0 ] || fail "the production profile stopped with status $stop_status"
echo "prod_smoke: passed in $(( $(date +%s) - started )) s"
