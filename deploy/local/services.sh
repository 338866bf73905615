#!/usr/bin/env bash
# Run the project's services locally as background processes of the virtualenv's python.
#
#   deploy/local/services.sh start    start each service not yet running, wait for its /readyz
#   deploy/local/services.sh stop     SIGTERM each service we started, SIGKILL after a grace period
#   deploy/local/services.sh status   one line per service; exit 0 when all are running and ready
#   deploy/local/services.sh instances   the instances start would run, one a line (what the benches run)
#
# Each service runs as `.venv/bin/python -m <name>` with KAFKA_BOOTSTRAP, DATABASE_URL, the encryption keys
# (the caller's PSYNC_CREDENTIALS_KEY / CONSOLE_SERVICE_KEYS_KEY, else random ones kept in .state/keys/) and
# <NAME>_HTTP_PORT in its environment; pidfile .state/run/svc-<name>.pid, log .state/logs/<name>.log.
# SERVICES (space-separated) overrides the list, e.g. SERVICES="connector mapper" services.sh start.
# <NAME>_REPLICAS=N runs N processes of a service (e.g. MAPPER_REPLICAS=3, PUSHER_REPLICAS=2; they join
# one consumer group): instances <name>, <name>-2 ... <name>-N, instance i on port <port> + 100 x (i-1),
# pidfile svc-<instance>.pid, log <instance>.log. The mapper runs 2 by default (DEFAULT_REPLICAS): one
# process leaves a core idle while it waits for each transaction, and its throughput goal (10,000 records/s,
# bench/bench_mapper_apply.py, which runs these defaults) needs both cores.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Start order matters only for readability of the logs: each service waits for Kafka/PostgreSQL itself.
# The console last: it reads from the others.
DEFAULT_SERVICES="pipedrive_sandbox connector mapper pusher auditlog console"
SERVICES="${SERVICES:-$DEFAULT_SERVICES}"

# Fixed local ports; an environment variable <NAME>_HTTP_PORT wins (also how a service not listed here
# gets a port).
declare -A DEFAULT_PORTS=([console]=8080 [connector]=8081 [mapper]=8082 [pusher]=8083 [auditlog]=8084
    [pipedrive_sandbox]=8765)
# Processes per service unless <NAME>_REPLICAS says otherwise (1 for a service not listed).
declare -A DEFAULT_REPLICAS=([mapper]=2)

export KAFKA_BOOTSTRAP="${KAFKA_BOOTSTRAP:-127.0.0.1:19092}"
export DATABASE_URL="${DATABASE_URL:-postgresql://psync:psync@127.0.0.1:55432/psync}"
READY_DEADLINE="${SERVICES_READY_DEADLINE:-60}"
STOP_GRACE="${SERVICES_STOP_GRACE:-20}"

# An instance is a service's name, with "-<i>" for its i-th replica (i >= 2).
module_of() { echo "${1%%-[0-9]*}"; }
replica_of() { if [[ "$1" =~ -([0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}"; else echo 1; fi; }

# Every instance of the listed services: <name>, then <name>-2 ... <name>-N for <NAME>_REPLICAS=N.
instances() {
    local name var count i
    for name in $SERVICES; do
        var="${name^^}_REPLICAS"
        count="${!var:-${DEFAULT_REPLICAS[$name]:-1}}"
        [[ "$count" =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive number, not '$count'"
        echo "$name"
        for ((i = 2; i <= count; i++)); do echo "$name-$i"; done
    done
}

port_var() { echo "$(module_of "$1" | tr '[:lower:]' '[:upper:]')_HTTP_PORT"; }

port_of() {
    local var module base
    module="$(module_of "$1")"
    var="$(port_var "$1")"
    if [[ -n "${!var:-}" ]]; then
        base="${!var}"
    elif [[ -n "${DEFAULT_PORTS[$module]:-}" ]]; then
        base="${DEFAULT_PORTS[$module]}"
    else
        die "no HTTP port for service '$module': set $var"
    fi
    echo $((base + 100 * ($(replica_of "$1") - 1)))
}

pidfile_of() { echo "$RUN/svc-$1.pid"; }
logfile_of() { echo "$LOGS/$1.log"; }
# The command line we start a service with; matching it is how we recognise our own process.
# (lib.sh's pid_of sees the arguments space-joined with a trailing space, hence the final space.)
running_pid() { pid_of "$(pidfile_of "$1")" "$PYTHON -m $(module_of "$1") "; }

# HTTP 200 from /readyz. curl when present, else the venv's python (a fresh machine may lack curl).
is_ready() {
    local url="http://127.0.0.1:$1/readyz"
    if command -v curl >/dev/null; then
        [[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null)" == 200 ]]
    else
        "$PYTHON" -c 'import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
except Exception:
    sys.exit(1)' "$url"
    fi
}

start_one() {
    local name="$1" port pid log
    port="$(port_of "$name")"
    log="$(logfile_of "$name")"
    if pid="$(running_pid "$name")"; then
        log "$name already running (pid $pid)"
        return 0
    fi
    if port_open "$port"; then
        die "$name: 127.0.0.1:$port is already taken by a process this script did not start"
    fi
    # The service's own port variable, next to the shared ones; everything else is inherited.
    printf '\n==== %s starting %s on port %s ====\n' "$(date -u +%FT%TZ)" "$name" "$port" >>"$log"
    # setsid: own session, so a Ctrl-C in the terminal does not reach it; stopped only by `stop`.
    # Run from the repo root so that relative paths in a service behave as under `make`.
    # The sandbox reads SANDBOX_PORT (its variables follow the issue that specified it), the services
    # <NAME>_HTTP_PORT; both are set so either finds its port.
    (cd "$ROOT" && exec env "$(port_var "$name")=$port" SANDBOX_PORT="$port" setsid "$PYTHON" -m "$(module_of "$name")") \
        >>"$log" 2>&1 </dev/null &
    echo $! >"$(pidfile_of "$name")"
    log "$name started (pid $!, port $port, log $log)"
}

# Wait for every listed service's /readyz; on the first failure show that service's log tail.
wait_ready() {
    local started=$SECONDS name pid port pending
    pending=("$@")
    while ((${#pending[@]})); do
        local still=()
        for name in "${pending[@]}"; do
            port="$(port_of "$name")"
            if ! pid="$(running_pid "$name")"; then
                # Alive but not the service yet: the start's subshell has not exec'd it (a busy machine).
                if alive "$(<"$(pidfile_of "$name")")"; then
                    still+=("$name")
                    continue
                fi
                log "$name exited during startup"
                tail_log "$(logfile_of "$name")" 60
                return 1
            fi
            if is_ready "$port"; then
                log "$name ready: http://127.0.0.1:$port/ (pid $pid)"
            else
                still+=("$name")
            fi
        done
        pending=("${still[@]+"${still[@]}"}")
        ((${#pending[@]})) || break
        if ((SECONDS - started >= READY_DEADLINE)); then
            for name in "${pending[@]}"; do
                log "$name not ready after ${READY_DEADLINE}s (http://127.0.0.1:$(port_of "$name")/readyz)"
                tail_log "$(logfile_of "$name")" 60
            done
            return 1
        fi
        sleep 0.5
    done
}

# The sandbox's OAuth app, made up once and kept in .state/oauth-app, shared by the sandbox (which
# registers it) and the services (which connect and refresh with it); variables already set win.
use_local_oauth_app() {
    local file="$STATE/oauth-app" id secret
    if [[ ! -s "$file" ]]; then
        (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_hex(8), secrets.token_hex(20))' >"$file")
    fi
    read -r id secret <"$file"
    export SANDBOX_OAUTH_CLIENT_ID="${SANDBOX_OAUTH_CLIENT_ID:-$id}"
    export SANDBOX_OAUTH_CLIENT_SECRET="${SANDBOX_OAUTH_CLIENT_SECRET:-$secret}"
    export PIPEDRIVE_OAUTH_CLIENT_ID="${PIPEDRIVE_OAUTH_CLIENT_ID:-$SANDBOX_OAUTH_CLIENT_ID}"
    export PIPEDRIVE_OAUTH_CLIENT_SECRET="${PIPEDRIVE_OAUTH_CLIENT_SECRET:-$SANDBOX_OAUTH_CLIENT_SECRET}"
    # Pipedrive sends the browser back to the console, which checks that the flow is its session's
    # before the connector trades the code (the console's README section, "OAuth in the browser").
    export PIPEDRIVE_OAUTH_REDIRECT_URI="${PIPEDRIVE_OAUTH_REDIRECT_URI:-http://127.0.0.1:$(port_of console)/pipedrive/callback}"
}

# The encryption keys: the caller's, else random ones kept under .state/keys (the services refuse to run
# on none or on the public development keys, unless PSYNC_LOCAL_MODE=true).
export_keys() {
    PSYNC_CREDENTIALS_KEY="${PSYNC_CREDENTIALS_KEY:-$(secret_key credentials-key)}"
    CONSOLE_SERVICE_KEYS_KEY="${CONSOLE_SERVICE_KEYS_KEY:-$(secret_key console-service-keys-key)}"
    export PSYNC_CREDENTIALS_KEY CONSOLE_SERVICE_KEYS_KEY
}

start() {
    [[ -x "$PYTHON" ]] || die "$PYTHON not found: run 'make venv' first"
    mkdir -p "$LOGS" "$RUN"
    use_local_oauth_app
    export_keys
    local name all
    all="$(instances)"
    for name in $all; do
        start_one "$name"
    done
    # shellcheck disable=SC2086 # word splitting of the instance list is intended
    wait_ready $all
}

stop() {
    local name pid names
    # Every service with a pidfile, not only the current list: `make down` must also stop a service
    # that was started with a different SERVICES list. Reverse order: the console (last) uses the others.
    names="$( (
        instances
        for f in "$RUN"/svc-*.pid; do
            if [[ -e "$f" ]]; then basename "$f" .pid | sed 's/^svc-//'; fi
        done
    ) | awk '!seen[$0]++' | tac)"
    for name in $names; do
        if pid="$(running_pid "$name")"; then
            log "stopping $name (pid $pid)"
            stop_pid "$pid" "$name" "$STOP_GRACE"
        fi
        rm -f "$(pidfile_of "$name")"
    done
}

status() {
    local name pid port rc=0
    for name in $(instances); do
        port="$(port_of "$name")"
        if ! pid="$(running_pid "$name")"; then
            echo "$name: not running"
            rc=3
        elif is_ready "$port"; then
            echo "$name: running (pid $pid), ready at http://127.0.0.1:$port/"
        else
            echo "$name: running (pid $pid), NOT ready at http://127.0.0.1:$port/readyz"
            rc=1
        fi
    done
    return "$rc"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    instances) instances ;;
    *) echo "usage: $0 {start|stop|status|instances}" >&2; exit 2 ;;
esac
