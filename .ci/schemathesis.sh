#!/usr/bin/env bash
# Fuzzes the running server against its own OpenAPI document with Schemathesis: no 5xx,
# and every answer within the documented status codes, content types and schemas.
# Needs WEBFB_BIN (the built binary); the budget is SCHEMATHESIS_MAX_TIME seconds.
set -euo pipefail
: "${WEBFB_BIN:?set WEBFB_BIN to the webfb binary}"
port=${SCHEMATHESIS_PORT:-18970}
dir=$(mktemp -d /tmp/webfb-fuzz.XXXXXX)
export WEBFB_DATA_DIR="$dir" WEBFB_BIND="127.0.0.1:$port" RUST_LOG=warn
"$WEBFB_BIN" demo >/dev/null
"$WEBFB_BIN" serve >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 60); do curl -fs "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.5; done

login() {
    curl -fs -X POST "http://127.0.0.1:$port$1" -H 'content-type: application/json' \
        -d "{\"login_id\":\"$2\",\"password\":\"$3\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
admin=$(login /api/v1/auth/login demo.admin Demo-Admin-2026)
operator=$(login /api/v1/bank/auth/login demo.operator Demo-Operator-2026)

run() {
    # Sign-outs would end the session the rest of the run signs in with. Run from the temp
    # directory: Schemathesis keeps its example cache in the working directory.
    (cd "$dir" && schemathesis run "http://127.0.0.1:$port/openapi.json" \
        --header "Authorization: Bearer $1" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
        --exclude-operation-id logout --exclude-operation-id bankLogout \
        --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
        --max-time "${SCHEMATHESIS_MAX_TIME:-90}" \
        --seed 20261123 --no-color --warnings off \
        "${@:2}")
}
echo "== as the company administrator"
run "$admin" --exclude-path-regex '^/api/v1/bank/'
echo "== as the bank operator"
run "$operator" --include-path-regex '^/api/v1/bank/'
if grep -q 'panicked' "$dir/server.log"; then
    echo "the server panicked:"; grep -B2 -A5 panicked "$dir/server.log"; exit 1
fi
