# Shared helpers for the local-infrastructure scripts (kafka.sh, postgres.sh, services.sh).
# Sourced, never executed. Everything the scripts create lives under one git-ignored state folder,
# so `make clean-state` (or `rm -rf .state` after `make down`) returns the checkout to a fresh clone.

# The repository root: two levels above this file, whatever the caller's working directory.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# PSYNC_STATE_DIR lets tests run the scripts against a throw-away state folder.
STATE="${PSYNC_STATE_DIR:-$ROOT/.state}"
LOGS="$STATE/logs"
RUN="$STATE/run"
# The project's virtualenv python; the scripts use it for aiokafka probes and for the services.
PYTHON="${PSYNC_PYTHON:-$ROOT/.venv/bin/python}"

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pid_of PIDFILE PATTERN: print the pid recorded in PIDFILE if that process is alive AND its command
# line contains PATTERN. The pattern check is what makes stop/status safe: a stale pidfile whose pid
# the kernel has since handed to an unrelated process is treated as "not running", never signalled.
pid_of() {
    local pidfile="$1" pattern="$2" pid
    [[ -s "$pidfile" ]] || return 1
    pid="$(<"$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    # cmdline is NUL-separated; turn it into one line to match against.
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern" || return 1
    echo "$pid"
}

# alive PID: the process exists and is not a zombie. A detached process is reparented to PID 1 when our
# script exits; in a container PID 1 may never reap it, and `kill -0` succeeds on a zombie.
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ "$state" != "Z" ]]
}

# stop_pid PID NAME GRACE_SECONDS: SIGTERM, wait up to GRACE_SECONDS, then SIGKILL as a last resort
# (a process that ignores SIGTERM must not keep `make down` from freeing its ports).
stop_pid() {
    local pid="$1" name="$2" grace="$3" waited=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while alive "$pid"; do
        if ((waited >= grace * 10)); then
            log "$name (pid $pid) still alive after ${grace}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# tail_log FILE [LINES]: show the end of a log so a failure explains itself in CI output.
tail_log() {
    local file="$1" lines="${2:-60}"
    if [[ -f "$file" ]]; then
        log "---- last $lines lines of $file ----"
        tail -n "$lines" "$file" >&2
        log "---- end of $file ----"
    else
        log "(no log file at $file)"
    fi
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT (bash's /dev/tcp,
# so no nc/ss dependency). The subshell keeps the file descriptor from leaking into the caller.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# secret_key NAME: print the random key kept in $STATE/keys/NAME (32 random bytes as 64 hex
# characters), generating it on first use. `make up` runs the services on these keys, never on the
# public development keys; the folder and files are readable by their owner only. Keep .state/keys
# as long as the data: credentials encrypted under a key cannot be read without it.
secret_key() {
    local dir="$STATE/keys" file="$STATE/keys/$1"
    if [[ ! -s "$file" ]]; then
        (umask 077 && mkdir -p "$dir" && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$file.tmp" \
            && mv "$file.tmp" "$file") || die "cannot write $file"
        log "generated a random key into $file"
    fi
    cat "$file"
}
