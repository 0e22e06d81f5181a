#!/usr/bin/env bash
# The typed client, proven against a live server.
#
# Starts `$WEBFB_BIN serve` on a throwaway SQLite database with a fresh bank operator,
# checks that it serves ../openapi.json, then, in this folder: installs the locked npm
# packages, generates the types from ../openapi.json, type-checks the client against them
# (a field the spec lacks fails here), builds it and plays the seed story
# (src/scenario.ts). Its last line is "N passed, M failed"; the script exits non-zero if
# anything failed.
#
#   WEBFB_BIN=target/debug/webfb bash openapi/client-check/run.sh
#
# Env: WEBFB_BIN (required): the built webfb binary.
#      WEBFB_CLIENT_CHECK_PORT (optional): first port to try, 18980 by default.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
section() { printf '\n==== client-check: %s ====\n' "$*"; }

: "${WEBFB_BIN:?set WEBFB_BIN to the webfb binary (e.g. target/debug/webfb)}"
bin=$(cd "$(dirname "$WEBFB_BIN")" && pwd)/$(basename "$WEBFB_BIN")
[[ -x "$bin" ]] || { echo "not an executable: $bin" >&2; exit 1; }
command -v node >/dev/null || { echo "node is not installed (Node 20 with npm is needed)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is not installed" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 1; }

section "throwaway server"
tmp=$(mktemp -d /tmp/webfb-client-check.XXXXXX)
server_pid=
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Only this run's own SQLite database and generated keys: no inherited database or config.
unset DATABASE_URL WEBFB_CONFIG WEBFB_JWT_SECRET WEBFB_MASTER_KEY WEBFB_MASTER_KEY_ID
export WEBFB_DATA_DIR="$tmp/data"
export RUST_LOG="${RUST_LOG:-warn}"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${WEBFB_CLIENT_CHECK_PORT:-18980}
for _ in $(seq 1 50); do
    port_in_use "$port" || break
    port=$((port + 1))
done
port_in_use "$port" && { echo "no free port from ${WEBFB_CLIENT_CHECK_PORT:-18980} on" >&2; exit 1; }

operator_login=ci.operator
operator_password="Bank-check-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')-7q"
printf '%s\n' "$operator_password" | "$bin" operator create --login-id "$operator_login"
# A second operator: the bank's destructive procedures need two (dual control).
checker_login=ci.checker
checker_password="Bank-check-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')-8q"
printf '%s\n' "$checker_password" | "$bin" operator create --login-id "$checker_login"

WEBFB_BIND="127.0.0.1:$port" "$bin" serve >"$tmp/server.log" 2>&1 &
server_pid=$!
url="http://127.0.0.1:$port"
for i in $(seq 1 60); do
    if curl -fsS "$url/ready" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server exited; its log:" >&2
        cat "$tmp/server.log" >&2
        exit 1
    fi
    if ((i == 60)); then
        echo "the server was not ready after 30 s; its log:" >&2
        cat "$tmp/server.log" >&2
        exit 1
    fi
    sleep 0.5
done
echo "server ready at $url (pid $server_pid, data in $WEBFB_DATA_DIR)"

section "served /openapi.json is the committed ../openapi.json"
curl -fsS "$url/openapi.json" -o "$tmp/served-openapi.json"
node -e '
const fs = require("node:fs");
const assert = require("node:assert");
const [served, committed] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
try {
    assert.deepStrictEqual(served, committed);
} catch {
    console.error("the server serves a different OpenAPI document than openapi/openapi.json:");
    console.error("regenerate it with `cargo run -- openapi > openapi/openapi.json`");
    process.exit(1);
}
console.log("same document (" + Object.keys(committed.paths).length + " paths)");
' "$tmp/served-openapi.json" "$here/../openapi.json"

cd "$here"
section "npm ci"
node --version
npm --version
npm ci --no-audit --no-fund

section "generate types from ../openapi.json (openapi-typescript)"
npm run --silent generate

section "type check (tsc --noEmit)"
npm run --silent check
echo "tsc: no type errors"

section "build"
npm run --silent build

section "scenario against $url"
status=0
WEBFB_URL="$url" \
    WEBFB_OPERATOR_LOGIN_ID="$operator_login" \
    WEBFB_OPERATOR_PASSWORD="$operator_password" \
    WEBFB_CHECKER_LOGIN_ID="$checker_login" \
    WEBFB_CHECKER_PASSWORD="$checker_password" \
    npm run --silent scenario || status=$?
if ((status != 0)); then
    echo
    echo "---- server log (last 50 lines) ----"
    tail -n 50 "$tmp/server.log"
fi
exit "$status"
