#!/usr/bin/env bash
# A private PostgreSQL cluster for local development and tests, independent of any system cluster:
# Debian's server binaries, data under .state/postgres, TCP on 127.0.0.1:55432 only.
#
#   deploy/local/postgres.sh start    install the server (once, root only), initdb (once), start, wait
#   deploy/local/postgres.sh stop     fast shutdown of this cluster
#   deploy/local/postgres.sh kill     abrupt stop (pg_ctl stop -m immediate: a crash, for fault tests)
#   deploy/local/postgres.sh status   exit 0 when this cluster accepts connections
#
# The cluster is durable (fsync, synchronous commits, full page writes): what it acknowledged survives
# a crash. POSTGRES_UNSAFE_FAST=true trades that for speed, for a throw-away cluster only (never for
# `make up`, never for a crash test). POSTGRES_PORT (default 55432) and PSYNC_STATE_DIR run a second,
# private cluster (fault tests do, so that the shared one is never stopped).
#
# Clients use DATABASE_URL=postgresql://psync:psync@127.0.0.1:55432/psync. The superuser is the OS user
# that owns the cluster (`postgres` when run as root), reachable without a password over the unix
# socket only.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${POSTGRES_PORT:-55432}"
DB_NAME=psync
DB_USER=psync
DB_PASSWORD=psync
PG_HOME="$STATE/postgres"
DATA="$PG_HOME/data"
PG_LOG="$LOGS/postgres.log"
READY_DEADLINE="${POSTGRES_READY_DEADLINE:-60}"

# initdb refuses to run as root, so as root the cluster belongs to the `postgres` system user; as any
# other user (a developer laptop) the cluster simply belongs to that user.
if ((EUID == 0)); then
    PG_OS_USER=postgres
else
    PG_OS_USER="$(id -un)"
fi

# Run a command as the cluster owner, from / so that a working directory the owner cannot read
# (e.g. /root) does not produce warnings.
as_owner() {
    if ((EUID == 0)); then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

# The newest installed server version, e.g. /usr/lib/postgresql/15/bin.
find_pg_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
    [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && echo "$dir"
}

ensure_server_installed() {
    PG_BIN="$(find_pg_bin)" && return 0
    ((EUID == 0)) || die "no PostgreSQL server under /usr/lib/postgresql: sudo apt-get install -y postgresql"
    log "installing the PostgreSQL server (apt-get install postgresql)"
    # The package also creates and tries to start Debian's own 'main' cluster on port 5432; we never
    # use it, and ours runs on its own port, so the two do not interfere.
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
    PG_BIN="$(find_pg_bin)" || die "apt-get installed postgresql but no server binaries were found"
}

ensure_owner_user() {
    ((EUID == 0)) || return 0
    id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
    log "creating system user $PG_OS_USER (initdb refuses to run as root)"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER"
}

# The unix socket path must fit in sun_path (107 bytes). Inside .state when it fits; otherwise (a very
# deep checkout) a per-checkout folder under /tmp.
socket_dir() {
    local dir="$PG_HOME/run"
    if ((${#dir} + ${#PORT} + 10 > 100)); then
        dir="/tmp/psync-pg-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)"
    fi
    echo "$dir"
}

# Prepare folders: the cluster owner must own .state/postgres and be able to walk down to it. The
# checkout may belong to root with no "other" execute bit on some parent; add exactly that bit where it
# is missing (search permission only: nobody gains the right to list or read those folders).
prepare_dirs() {
    mkdir -p "$PG_HOME" "$LOGS" "$SOCKET_DIR"
    # Private: the socket accepts the superuser without a password, so only the owner may reach it.
    chmod 700 "$PG_HOME" "$SOCKET_DIR"
    if ((EUID == 0)); then
        chown "$PG_OS_USER:" "$PG_HOME" "$SOCKET_DIR"
        local d="$PG_HOME"
        while [[ "$d" != "/" ]]; do
            d="$(dirname "$d")"
            if ! as_owner test -x "$d"; then
                log "chmod o+x $d (so that $PG_OS_USER can reach $PG_HOME)"
                chmod o+x "$d"
            fi
        done
        # pg_ctl opens the log as the cluster owner.
        touch "$PG_LOG"
        chown "$PG_OS_USER:" "$PG_LOG"
    fi
}

init_cluster() {
    if [[ -f "$DATA/PG_VERSION" ]]; then
        local have want
        have="$(<"$DATA/PG_VERSION")"
        want="$(basename "$(dirname "$PG_BIN")")"
        [[ "$have" == "$want" ]] || die "$DATA was created by PostgreSQL $have, installed is $want: run 'make clean-state'"
        return 0
    fi
    log "initdb $DATA (PostgreSQL $(basename "$(dirname "$PG_BIN")"))"
    # trust over the unix socket (only the owner can reach it: the socket folder is the owner's),
    # scram passwords over TCP. C collation: sorting identical on every machine.
    as_owner "$PG_BIN/initdb" -D "$DATA" -U "$PG_OS_USER" --encoding=UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 \
        || { tail_log "$PG_LOG" 40; die "initdb failed"; }
    # Our settings live in their own file, regenerated on every start (see write_config).
    echo "include_if_exists = 'psync.conf'" | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
}

# Durable unless asked otherwise: with fsync or synchronous_commit off, a crash (even of PostgreSQL
# alone, as pg_ctl stop -m immediate) loses transactions already acknowledged to the services, whose
# Kafka offsets are then committed past them.
durability_settings() {
    if [[ "${POSTGRES_UNSAFE_FAST:-false}" == true ]]; then
        printf '%s\n' "# POSTGRES_UNSAFE_FAST=true: a throw-away cluster; a crash loses acknowledged commits." \
            "fsync = off" "synchronous_commit = off" "full_page_writes = off"
    else
        printf '%s\n' "# Durable: what was acknowledged survives a crash." \
            "fsync = on" "synchronous_commit = on" "full_page_writes = on"
    fi
}

write_config() {
    as_owner tee "$DATA/psync.conf" >/dev/null <<EOF
# Generated by deploy/local/postgres.sh on every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
# Services, their pools and the test suite together open more than the default 100 connections.
max_connections = 300
$(durability_settings)
# Memory and checkpoints for an import of 100,000 records (about 700 MB of WAL, every service together):
# with the defaults (128MB, 1GB, 5min) the tables' working set did not fit, backends wrote out dirty
# buffers themselves, and checkpoints came every few hundred MB, after each of which a page's first
# change is logged in full again. Durability is the same: only a crash's recovery replays more WAL.
shared_buffers = 512MB
max_wal_size = 4GB
checkpoint_timeout = 15min
# Which statements cost what (execution time, rows, WAL per statement): the pg_stat_statements view in
# the application database, readable by its role; the end-to-end bench reports its top statements.
shared_preload_libraries = 'pg_stat_statements'
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

is_running() { as_owner "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

# psql as the superuser over the unix socket.
psql_admin() {
    as_owner "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U "$PG_OS_USER" "$@"
}

# Create the application role and database when missing. Run on every start: cheap, and it repairs a
# cluster whose first start was interrupted between initdb and this step.
ensure_role_and_db() {
    psql_admin -d postgres <<EOF
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
EOF
    psql_admin -d "$DB_NAME" <<EOF
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
GRANT pg_read_all_stats TO $DB_USER;
EOF
}

start() {
    ensure_server_installed
    ensure_owner_user
    SOCKET_DIR="$(socket_dir)"
    if [[ -f "$DATA/PG_VERSION" ]] && is_running; then
        log "already running on 127.0.0.1:$PORT"
        return 0
    fi
    if port_open "$PORT"; then
        die "127.0.0.1:$PORT is already taken by a process this script did not start"
    fi
    prepare_dirs
    init_cluster
    write_config
    log "starting on 127.0.0.1:$PORT (log: $PG_LOG)"
    # -w waits for the server to accept connections; pg_ctl detaches the postmaster into its own
    # session, so it outlives this script and ignores the terminal's Ctrl-C.
    if ! as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$PG_LOG" -w -t "$READY_DEADLINE" start >/dev/null; then
        tail_log "$PG_LOG" 40
        die "PostgreSQL did not start; log: $PG_LOG"
    fi
    # Ready as clients see it: over TCP, the address DATABASE_URL points at.
    local started=$SECONDS
    until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; do
        if ((SECONDS - started > READY_DEADLINE)); then
            tail_log "$PG_LOG" 40
            die "PostgreSQL not accepting TCP connections on 127.0.0.1:$PORT; log: $PG_LOG"
        fi
        sleep 0.2
    done
    ensure_role_and_db
    log "ready: postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
}

stop() {
    PG_BIN="$(find_pg_bin)" || { log "not running (no server installed)"; return 0; }
    if [[ ! -f "$DATA/PG_VERSION" ]] || ! is_running; then
        log "not running"
        return 0
    fi
    log "stopping"
    # fast: roll back open transactions and disconnect clients instead of waiting for them.
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    log "stopped"
}

# An abrupt stop, as a crash or a power cut would do it: no checkpoint, clients cut off; the next start
# recovers from the WAL.
kill_cluster() {
    PG_BIN="$(find_pg_bin)" || { log "not running (no server installed)"; return 0; }
    if [[ ! -f "$DATA/PG_VERSION" ]] || ! is_running; then
        log "not running"
        return 0
    fi
    log "stopping abruptly (immediate)"
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w -t 60 stop >/dev/null
    log "stopped"
}

status() {
    PG_BIN="$(find_pg_bin)" || { echo "postgres: not installed"; return 3; }
    if [[ ! -f "$DATA/PG_VERSION" ]] || ! is_running; then
        echo "postgres: not running"
        return 3
    fi
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
        echo "postgres: running on 127.0.0.1:$PORT (data: $DATA)"
    else
        echo "postgres: server process up but not accepting connections on 127.0.0.1:$PORT"
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    kill) kill_cluster ;;
    status) status ;;
    *) echo "usage: $0 {start|stop|kill|status}" >&2; exit 2 ;;
esac
