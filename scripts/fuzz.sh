#!/usr/bin/env bash
# `make fuzz`: schemathesis against the OpenAPI document served by the running product.
#
# Starts Azurite (test ports) and the emulator with this project's function_app.py on a free
# loopback port, in development auth mode (loopback only: every caller is admin, so every
# route is reachable), then generates at least FUZZ_MIN_CASES cases over every operation.
# Fails on any 5xx, any response outside the documented status codes, content types or
# schemas. Prints the number of cases as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
MIN_CASES=${FUZZ_MIN_CASES:-1000}
EXAMPLES=${FUZZ_MAX_EXAMPLES:-8}

bash scripts/services.sh start-test >/dev/null

work=$(mktemp -d)
emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
suffix=$($PY -c 'import uuid; print(uuid.uuid4().hex[:10])')
conn=$($PY -c 'from tests.conftest import azurite_connection_string as c; print(c())')

env -u WEBSITE_INSTANCE_ID -u WEBSITE_SITE_NAME -u WEBSITE_HOSTNAME \
  BACKUP_STORAGE_CONNECTION_STRING="$conn" \
  TABLE_PREFIX="fuzz${suffix}" \
  BACKUP_CONTAINER="fuzz-${suffix}" \
  SECRET_STORE=local \
  LOCAL_SECRET_KEY="$($PY -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')" \
  CONNECT_TIMEOUT_SECONDS=1 \
  AUTH_MODE=development \
  "$PY" -m emulator --app-dir . --host 127.0.0.1 --port "$port" --state "$work/state.sqlite" \
  >"$work/emulator.log" 2>&1 &
emulator_pid=$!

base="http://127.0.0.1:${port}"
for _ in $(seq 1 100); do
  if curl -fsS "$base/api/health" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
curl -fsS "$base/api/health" >/dev/null || { cat "$work/emulator.log"; echo "emulator did not start"; exit 1; }

# Positive cases: every documented status, content type and schema is checked. Negative
# cases (invalid bodies, ids, queries) must never cause a 5xx; some cannot even be routed
# (a path segment holding a newline) and get the platform's own plain-text 404, so only
# the server-error check applies to them.
run_schemathesis() {
  local mode=$1 checks=$2
  .venv/bin/schemathesis run "$base/api/openapi.json" \
    --url "$base/api" \
    -H "Content-Type: application/json" \
    --mode "$mode" \
    --checks "$checks" \
    --phases examples,coverage,fuzzing \
    --max-examples "$EXAMPLES" \
    --workers 1 \
    --seed "${FUZZ_SEED:-20261128}" \
    --request-timeout 30 \
    --suppress-health-check all \
    --generation-with-security-parameters false \
    --report ndjson --report-ndjson-path "$work/$mode.ndjson" \
    --output-sanitize true
}

set +e
run_schemathesis positive not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
positive=$?
run_schemathesis negative not_a_server_error
negative=$?
set -e
status=$(( positive != 0 || negative != 0 ))

cases=$($PY scripts/fuzz_cases.py "$work/positive.ndjson" "$work/negative.ndjson")
if grep -q " ERROR \| Traceback" "$work/emulator.log"; then
  echo "--- emulator errors ---"; grep -A3 " ERROR \|Traceback" "$work/emulator.log" | head -40
fi
if [ "$status" -eq 0 ] && [ "$cases" -lt "$MIN_CASES" ]; then
  echo "only $cases cases were generated (at least $MIN_CASES required)"
  status=1
fi
echo "cases: $cases"
exit "$status"
