#!/usr/bin/env bash
# Fuzz the JSON API against its own OpenAPI document with Schemathesis: a throw-away SQLite
# database in a temporary folder, seeded with the test world and a city dispatcher's token; the
# app served by gunicorn on a free loopback port; every operation tried with generated valid and
# invalid input. Fails on any 5xx or any answer that does not match the document.
#
# Needs no network beyond 127.0.0.1. Bounded: API_FUZZ_EXAMPLES inputs per operation per phase
# (default 25) and API_FUZZ_MAX_TIME seconds of generation (default 150; about 3 minutes in all).
#
#   bash scripts/api_fuzz.sh            # from the repository root, after `make setup`
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
EXAMPLES="${API_FUZZ_EXAMPLES:-25}"
MAX_TIME="${API_FUZZ_MAX_TIME:-150}"
WORK="$(mktemp -d -t sizhi-api-fuzz.XXXXXX)"
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Everything this run writes stays in $WORK; nothing of a developer's own data is touched.
export SIZHI_DATA_DIR="$WORK"
export SIZHI_MEDIA_ROOT="$WORK/media"
export DATABASE_URL="sqlite:///$WORK/fuzz.sqlite3"
export DJANGO_SETTINGS_MODULE=sizhi.config.settings
export SIZHI_DEBUG=0
# Plain HTTP on 127.0.0.1: without these DEBUG-off defaults redirect every request to HTTPS.
export SIZHI_SSL_REDIRECT=0 SIZHI_COOKIE_SECURE=0 SIZHI_HSTS_SECONDS=0
export SIZHI_LOG_LEVEL=WARNING
unset REDIS_URL
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

PORT="$($BIN/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"

$BIN/python -m sizhi.manage migrate --noinput -v 0
$BIN/python scripts/api_fuzz_seed.py >"$WORK/seed.txt"
TOKEN="$(head -n 1 "$WORK/seed.txt")"
tail -n +2 "$WORK/seed.txt" >"$WORK/schemathesis.toml"

$BIN/gunicorn sizhi.config.wsgi:application --bind "127.0.0.1:$PORT" --workers 2 --threads 2 \
  --timeout 60 --log-level warning >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 60); do
  if $BIN/python -c "import urllib.request, sys; urllib.request.urlopen('$BASE/api/v1/openapi.json', timeout=2)" 2>/dev/null; then
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "server did not start" >&2; exit 1; }
  sleep 0.5
done

started=$(date +%s)
status=0
$BIN/schemathesis --config-file "$WORK/schemathesis.toml" run "$BASE/api/v1/openapi.json" \
  --checks not_a_server_error,response_schema_conformance \
  --header "Authorization: Bearer $TOKEN" \
  --phases examples,coverage,fuzzing \
  --max-examples "$EXAMPLES" \
  --max-time "$MAX_TIME" \
  --request-timeout 30 \
  --workers 1 \
  --seed "${API_FUZZ_SEED:-20260101}" \
  --generation-database none \
  --suppress-health-check too_slow,filter_too_much,data_too_large \
  --no-color \
  --report junit --report-dir "${API_FUZZ_REPORT_DIR:-$WORK/report}" || status=$?
echo "api_fuzz: schemathesis exit $status after $(( $(date +%s) - started ))s"
if [ "$status" -ne 0 ] && grep -q "Traceback" "$WORK/server.log"; then
  echo "--- server log ---" >&2
  tail -n 80 "$WORK/server.log" >&2
fi
exit "$status"
