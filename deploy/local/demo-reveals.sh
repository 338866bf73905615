#!/usr/bin/env bash
# The demo's stream of website-visitor reveals (deploy/local/demo.py reveals), in the background.
#
#   deploy/local/demo-reveals.sh start    start it unless it runs (log .state/logs/demo-reveals.log)
#   deploy/local/demo-reveals.sh stop     SIGTERM the stream this script started
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDFILE="$RUN/demo-reveals.pid"
LOG="$LOGS/demo-reveals.log"
PATTERN="deploy/local/demo.py reveals"

case "${1:-}" in
    start)
        mkdir -p "$RUN" "$LOGS"
        if pid="$(pid_of "$PIDFILE" "$PATTERN")"; then
            log "already running (pid $pid)"
            exit 0
        fi
        (cd "$ROOT" && exec setsid "$PYTHON" deploy/local/demo.py reveals) >>"$LOG" 2>&1 </dev/null &
        echo $! >"$PIDFILE"
        log "demo reveals started (pid $!, log $LOG)"
        ;;
    stop)
        if pid="$(pid_of "$PIDFILE" "$PATTERN")"; then
            stop_pid "$pid" "demo reveals" 10
            log "demo reveals stopped"
        fi
        rm -f "$PIDFILE"
        ;;
    *)
        echo "usage: $0 {start|stop}" >&2
        exit 2
        ;;
esac
