#!/usr/bin/env bash
# A Python client generated from ../openapi.json, proven against a live server.
#
# Starts `$WEBFB_BIN serve` on a throwaway SQLite database with fresh bank operators, then:
# installs the pinned tools (requirements.txt) into a venv, GENERATES the client from
# ../openapi.json with openapi-python-client into a temporary directory (never committed),
# fails if the generator skipped or warned about any operation and if any operationId lacks
# its generated module (check_generated.py), type-checks the generated package and story.py
# with mypy --strict, installs the package and plays the corporate story (story.py) through
# it. Its last line is "N passed, M failed" (the checks here and the story's steps); the
# script exits non-zero if anything failed.
#
#   WEBFB_BIN=target/debug/webfb bash openapi/python-client-check/run.sh
#
# Env: WEBFB_BIN (required): the built webfb binary.
#      WEBFB_PY_CLIENT_CHECK_PORT (optional): first port to try, 18990 by default.
#      WEBFB_PY_CLIENT_CHECK_VENV (optional): the venv to (re)use, .venv here by default;
#        it is rebuilt when requirements.txt or the Python version changes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
section() { printf '\n==== python-client-check: %s ====\n' "$*"; }

: "${WEBFB_BIN:?set WEBFB_BIN to the webfb binary (e.g. target/debug/webfb)}"
bin=$(cd "$(dirname "$WEBFB_BIN")" && pwd)/$(basename "$WEBFB_BIN")
[[ -x "$bin" ]] || { echo "not an executable: $bin" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is not installed (3.11 or later is needed)" >&2; exit 1; }
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    { echo "python3 is $(python3 -V 2>&1); the generated client needs 3.11 or later" >&2; exit 1; }
python3 -c 'import ensurepip, venv' 2>/dev/null ||
    { echo "python3 cannot create a venv (on Debian: apt-get install python3-venv)" >&2; exit 1; }

section "throwaway server"
tmp=$(mktemp -d /tmp/webfb-python-client-check.XXXXXX)
# shellcheck source=../live-server.sh
source "$here/../live-server.sh"
start_live_server "${WEBFB_PY_CLIENT_CHECK_PORT:-18990}"

# The checks before the story: each prints "ok" or "FAIL" and counts in the last line; a
# failed one does not stop the story, whose steps say more about what is wrong.
checks_passed=0
checks_failed=0
check() {
    if "${@:2}"; then
        checks_passed=$((checks_passed + 1))
        echo "ok    check: $1"
    else
        checks_failed=$((checks_failed + 1))
        echo "FAIL  check: $1"
    fi
}

section "served /openapi.json is the committed ../openapi.json"
curl -fsS "$url/openapi.json" -o "$tmp/served-openapi.json"
same_document() {
    python3 - "$tmp/served-openapi.json" "$here/../openapi.json" <<'PY'
import json, sys
served, committed = (json.load(open(f, encoding="utf-8")) for f in sys.argv[1:])
if served != committed:
    print("the server serves a different OpenAPI document than openapi/openapi.json: a stale")
    print("binary, or regenerate it with `cargo run -- openapi > openapi/openapi.json`")
    sys.exit(1)
print(f"same document ({len(committed['paths'])} paths)")
PY
}
check "the server serves the committed document" same_document

section "venv with the pinned tools (requirements.txt)"
venv=${WEBFB_PY_CLIENT_CHECK_VENV:-$here/.venv}
stamp="$(python3 -VV | tr -d '\n') $(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ -e "$venv" && ! -f "$venv/pyvenv.cfg" ]]; then
    echo "$venv exists and is not a venv: not touching it" >&2
    exit 1
fi
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.requirements-stamp" 2>/dev/null)" != "$stamp" ]]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
    printf '%s\n' "$stamp" >"$venv/.requirements-stamp"
    echo "created $venv"
else
    echo "reusing $venv"
fi
export PATH="$venv/bin:$PATH" PYTHONDONTWRITEBYTECODE=1
python -V
openapi-python-client --version

section "generate the client from ../openapi.json (openapi-python-client)"
gen="$tmp/generated"
status=0
(cd "$tmp" && openapi-python-client generate --path "$here/../openapi.json" \
    --config "$here/generator-config.yml" --meta setup --output-path "$gen") \
    >"$tmp/generator.log" 2>&1 || status=$?
cat "$tmp/generator.log"
if ((status != 0)) || [[ ! -d "$gen/webfb_client/api" ]]; then
    echo "openapi-python-client failed (exit $status): no client to check" >&2
    echo
    echo "$checks_passed passed, $((checks_failed + 1)) failed"
    exit 1
fi
check "every operation of the document is generated" \
    python "$here/check_generated.py" "$here/../openapi.json" "$gen/webfb_client" "$tmp/generator.log"

section "type check: the generated client and story.py (mypy --strict)"
check "mypy --strict finds no error" \
    mypy --strict --cache-dir "$tmp/mypy-cache" --no-error-summary "$gen/webfb_client" "$here/story.py"

section "install the generated package"
python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation "$gen"
python -c 'import webfb_client, pathlib; print("webfb_client from", pathlib.Path(webfb_client.__file__).parent)'

section "the corporate story against $url"
status=0
(cd "$tmp" && WEBFB_URL="$url" \
    WEBFB_OPERATOR_LOGIN_ID="$operator_login" \
    WEBFB_OPERATOR_PASSWORD="$operator_password" \
    python "$here/story.py") | tee "$tmp/story.out" || status=$?
story_line=$(tail -n 1 "$tmp/story.out")
if [[ "$story_line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    story_passed=${BASH_REMATCH[1]}
    story_failed=${BASH_REMATCH[2]}
else
    story_passed=0
    story_failed=1
fi
((status == 0)) || ((story_failed > 0)) || story_failed=1
if ((story_failed > 0)); then
    echo
    echo "---- server log (last 50 lines) ----"
    tail -n 50 "$tmp/server.log"
fi

section "result"
echo "checks: $checks_passed passed, $checks_failed failed; story: $story_passed passed, $story_failed failed"
echo
echo "$((checks_passed + story_passed)) passed, $((checks_failed + story_failed)) failed"
((checks_failed + story_failed == 0))
