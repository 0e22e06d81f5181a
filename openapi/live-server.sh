# Sourced by the client checks (client-check/, python-client-check/): a throwaway
# `webfb serve` on a SQLite database of its own with two fresh bank operators (the bank's
# destructive procedures need two: dual control), stopped and removed when the script exits.
#
#   In:  $bin: the webfb binary; $tmp: a private folder, removed at exit;
#        $1: the first port to try.
#   Out: $url, $server_pid, $operator_login, $operator_password, $checker_login,
#        $checker_password.

server_pid=
stop_live_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}

start_live_server() {
    trap stop_live_server EXIT
    # Only this run's own SQLite database and generated keys: no inherited database or config.
    unset DATABASE_URL WEBFB_CONFIG WEBFB_JWT_SECRET WEBFB_MASTER_KEY WEBFB_MASTER_KEY_ID
    export WEBFB_DATA_DIR="$tmp/data"
    export RUST_LOG="${RUST_LOG:-warn}"

    port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
    local first=$1 port=$1
    for _ in $(seq 1 50); do
        port_in_use "$port" || break
        port=$((port + 1))
    done
    port_in_use "$port" && { echo "no free port from $first on" >&2; exit 1; }

    operator_login=ci.operator
    operator_password="Bank-check-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')-7q"
    printf '%s\n' "$operator_password" | "$bin" operator create --login-id "$operator_login"
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
}
