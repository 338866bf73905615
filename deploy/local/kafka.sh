#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft: broker and controller in one JVM) for local development and tests,
# run straight from Maven Central jars with the machine's JDK 17: no Docker, no Kafka distribution.
#
#   deploy/local/kafka.sh start    fetch jars (once), format storage (once), start, wait until serving
#   deploy/local/kafka.sh stop     SIGTERM the broker this script started and wait for it to exit
#   deploy/local/kafka.sh kill     SIGKILL it (a crash, for fault tests)
#   deploy/local/kafka.sh status   exit 0 when our broker runs and answers a metadata request
#   deploy/local/kafka.sh tool CLASS [ARGS...]
#                                  run a Kafka CLI tool from the same jars, e.g.
#                                  tool ConsumerGroupCommand --bootstrap-server 127.0.0.1:19092 --list
#
# Layout under .state/: kafka/libs (jar cache), kafka/config (generated), kafka/data (log.dirs),
# run/kafka.pid, logs/kafka*.log.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# KAFKA_PORT / KAFKA_CONTROLLER_PORT and PSYNC_STATE_DIR run a second, private broker (fault tests do,
# so that the shared one is never stopped); KAFKA_LIBS_DIR reuses another checkout's jar cache.
PORT="${KAFKA_PORT:-19092}"                       # PLAINTEXT, what clients use (KAFKA_BOOTSTRAP)
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}" # KRaft controller listener, only the broker uses it
POM="$ROOT/deploy/local/kafka/pom.xml"
HOME_DIR="$STATE/kafka"
LIBS="${KAFKA_LIBS_DIR:-$HOME_DIR/libs}"
CONFIG_DIR="$HOME_DIR/config"
DATA="$HOME_DIR/data"
PIDFILE="$RUN/kafka.pid"
SERVER_LOG="$LOGS/kafka.log"  # log4j2 output (the broker's own log)
STDOUT_LOG="$LOGS/kafka.out"  # JVM stdout/stderr: crashes before log4j is up land here
READY_DEADLINE="${KAFKA_READY_DEADLINE:-90}"
HEAP="${KAFKA_HEAP:-512m}"
# How long the controller waits for a silent broker before fencing it (Kafka's default, 9 s). After a
# SIGKILL the restarted broker cannot register until the dead one's session lapses, so a fault test's
# private broker runs a shorter one (KAFKA_BROKER_SESSION_TIMEOUT_MS); heartbeats every quarter of it
# (at most every 2 s, Kafka's default).
BROKER_SESSION_MS="${KAFKA_BROKER_SESSION_TIMEOUT_MS:-9000}"
# More JVM options (space-separated), after the script's own, so they win over them (e.g.
# -XX:TieredStopAtLevel=4 for the JIT's second tier, see below).
JVM_EXTRA_OPTS="${KAFKA_JVM_EXTRA_OPTS:-}"
# The JIT compiles with its first tier (C1) only (-XX:TieredStopAtLevel=1, below). On 2 cores the second
# tier (C2) kept compiling on the cores the services need, still 3 s a run after 700,000 records: in four
# end-to-end benches on a private broker (2026-12-03, load 6 to 35) its compiler threads used 13.0, 3.9,
# 4.0 and 3.2 s of the broker's 25.5, 17.0, 15.6 and 13.2 s, against 0.5, 0.3, 0.1 and 0.1 s of 15.0,
# 15.3, 14.7 and 13.4 s with C1 only (per record 174, 103, 97, 84 -> 98, 96, 104, 89 us: 15% less over
# the four). C1's code is slower (request threads 4.9 to 5.6 s a run against 3.6 to 4.4 s), so a broker
# serving one steady load for days may do better with C2 (-XX:TieredStopAtLevel=4 in
# KAFKA_JVM_EXTRA_OPTS); a local one, with its imports and benches, costs less with C1, and starts on less
# CPU (5.4 to 5.9 s against 8.8 to 9.8 s). docs/operations.md has the figures. G1 stays: its collections
# were 0.5 to 1.3 s of a run.

# Fetch the broker jars into .state/kafka/libs. The cache is keyed on the pom's sha256, so a changed
# Kafka version refetches, and an unchanged pom means no Maven and no network at all.
fetch_jars() {
    local want have="" tmp
    want="$(sha256sum "$POM" | cut -d' ' -f1)"
    [[ -f "$LIBS/.pom.sha256" ]] && have="$(<"$LIBS/.pom.sha256")"
    if [[ "$want" == "$have" ]] && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null; then
        return 0
    fi
    # Another checkout's cache is only ever read.
    [[ -z "${KAFKA_LIBS_DIR:-}" ]] || die "KAFKA_LIBS_DIR=$KAFKA_LIBS_DIR holds no jars of this pom"
    command -v mvn >/dev/null || die "maven (mvn) is needed once to fetch the Kafka jars: apt-get install -y maven"
    log "fetching Kafka jars with Maven (pom sha256 ${want:0:12})"
    # Copy into a temporary folder and swap it in, so an interrupted fetch never leaves a half cache
    # that a later run would mistake for a complete one.
    tmp="$HOME_DIR/libs.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    # Maven's output goes to a log (it is noise when all goes well) and is shown when it fails.
    if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -DincludeScope=runtime >"$LOGS/kafka-fetch.log" 2>&1; then
        tail_log "$LOGS/kafka-fetch.log" 40
        die "could not fetch the Kafka jars (network? Maven Central reachable?)"
    fi
    echo "$want" >"$tmp/.pom.sha256"
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
}

# Write the broker configuration. Regenerated on every start (it is derived, not state), so a change
# in this script takes effect on the next start. .properties allows no comment after a value.
write_config() {
    mkdir -p "$CONFIG_DIR"
    cat >"$CONFIG_DIR/server.properties" <<EOF
# Generated by deploy/local/kafka.sh; edits are overwritten on the next start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA

# One broker: every internal topic has one replica, and one partition (instead of 50) so the first
# consumer group or transaction does not wait for dozens of partitions to be created and loaded.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
default.replication.factor=1
min.insync.replicas=1

# The broker's session with its controller (one JVM here).
broker.session.timeout.ms=$BROKER_SESSION_MS
broker.heartbeat.interval.ms=$((BROKER_SESSION_MS / 4 < 2000 ? BROKER_SESSION_MS / 4 : 2000))

# Fast group joins for tests: no 3 s initial rebalance delay, short session timeouts allowed.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000

# Topics are created explicitly from schemas/topics.py, so a typo in a topic name fails loudly.
auto.create.topics.enable=false
num.partitions=1

# A laptop or a 2-core CI box: fewer threads than the server defaults.
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
group.coordinator.threads=1
share.coordinator.threads=1

# Small segments keep the data folder small; compaction of the settings topic still runs.
log.segment.bytes=67108864
log.retention.check.interval.ms=60000
EOF
    # log4j2 (Kafka 4.x logs through log4j2; the properties format needs no extra jar).
    cat >"$CONFIG_DIR/log4j2.properties" <<EOF
# Generated by deploy/local/kafka.sh.
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $SERVER_LOG
appender.file.filePattern = $LOGS/kafka-%i.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
# The request and state-change loggers are chatty at INFO and say nothing useful locally.
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
EOF
}

# Format the KRaft log dir exactly once. A formatted dir carries meta.properties; formatting it again
# would fail (or, with a new cluster id, orphan its data), so its presence is the "done" marker.
format_storage() {
    [[ -f "$DATA/meta.properties" ]] && return 0
    local cluster_id
    if [[ -s "$HOME_DIR/cluster.id" ]]; then
        cluster_id="$(<"$HOME_DIR/cluster.id")"
    else
        cluster_id="$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
        [[ -n "$cluster_id" ]] || die "kafka.tools.StorageTool random-uuid printed no id"
        echo "$cluster_id" >"$HOME_DIR/cluster.id"
    fi
    log "formatting $DATA (cluster id $cluster_id)"
    mkdir -p "$DATA"
    # Static controller.quorum.voters: plain `format` (`--standalone` is only for the dynamic quorum).
    java -cp "$LIBS/*" -Dlog4j2.configurationFile="$CONFIG_DIR/log4j2.properties" \
        kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG_DIR/server.properties" >&2
}

running_pid() { pid_of "$PIDFILE" "$CONFIG_DIR/server.properties"; }

# A metadata request through aiokafka: the port being open is necessary, this proves it serves.
probe() { "$PYTHON" "$ROOT/deploy/local/kafka_probe.py" "127.0.0.1:$PORT" "$@"; }

# wait_ready PID: poll until the broker serves or dies or the deadline passes. On failure the broker is
# stopped, so a failed start leaves nothing behind that a later `start` would mistake for a good one.
wait_ready() {
    local pid="$1" started=$SECONDS
    while ((SECONDS - started < READY_DEADLINE)); do
        if ! alive "$pid"; then
            log "broker (pid $pid) exited during startup"
            tail_log "$STDOUT_LOG" 30
            tail_log "$SERVER_LOG" 60
            rm -f "$PIDFILE"
            return 1
        fi
        # Port first (cheap, no Python start-up), then a real metadata request.
        if port_open "$PORT" && probe --timeout 5 >/dev/null 2>&1; then
            log "ready on 127.0.0.1:$PORT (pid $pid, waited $((SECONDS - started))s)"
            return 0
        fi
        sleep 0.5
    done
    log "broker not ready after ${READY_DEADLINE}s; stopping it"
    tail_log "$STDOUT_LOG" 30
    tail_log "$SERVER_LOG" 60
    stop_pid "$pid" kafka 30
    rm -f "$PIDFILE"
    return 1
}

start() {
    local pid
    if pid="$(running_pid)"; then
        # Already ours and running: a no-op, except that a caller racing a previous start still
        # only returns once the broker serves.
        log "already running (pid $pid)"
        wait_ready "$pid"
        return
    fi
    command -v java >/dev/null || die "java (JDK 17) not found: apt-get install -y openjdk-17-jdk-headless"
    [[ -x "$PYTHON" ]] || die "$PYTHON not found: run 'make venv' first (the readiness probe uses aiokafka)"
    local p
    for p in "$PORT" "$CONTROLLER_PORT"; do
        if port_open "$p"; then
            die "127.0.0.1:$p is already taken by a process this script did not start"
        fi
    done
    mkdir -p "$HOME_DIR" "$LOGS" "$RUN"
    fetch_jars
    write_config
    format_storage

    log "starting broker on 127.0.0.1:$PORT (log: $SERVER_LOG)"
    # log4j2's own shutdown hook would stop logging while Kafka's shutdown hook still runs, losing the
    # shutdown messages (the file appender flushes every line, so nothing else is lost by disabling it).
    # setsid: the broker gets its own session, so a Ctrl-C in the terminal that ran `make up` does not
    # reach it; it is stopped only by `kafka.sh stop`. The JVM is exec'd by setsid, so $! is its pid.
    setsid java \
        -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$CONFIG_DIR/log4j2.properties" \
        -Dlog4j2.shutdownHookEnabled=false \
        -Dkafka.logs.dir="$LOGS" \
        $JVM_EXTRA_OPTS \
        -cp "$LIBS/*" kafka.Kafka "$CONFIG_DIR/server.properties" \
        >>"$STDOUT_LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    wait_ready "$pid"
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        log "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping broker (pid $pid)"
    # SIGTERM runs Kafka's controlled shutdown; give it time before falling back to SIGKILL.
    stop_pid "$pid" kafka 60
    rm -f "$PIDFILE"
    log "stopped"
}

kill_broker() {
    local pid
    if ! pid="$(running_pid)"; then
        log "not running"
        return 0
    fi
    log "killing broker (pid $pid)"
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
    rm -f "$PIDFILE"
}

status() {
    local pid
    if ! pid="$(running_pid)"; then
        echo "kafka: not running"
        return 3
    fi
    if probe --timeout 5; then
        echo "kafka: running (pid $pid) on 127.0.0.1:$PORT"
    else
        echo "kafka: process $pid alive but not answering metadata requests on 127.0.0.1:$PORT"
        return 1
    fi
}

# Kafka's CLI tools (TopicCommand, ConsumerGroupCommand for offset resets, ...) from the cached jars,
# logging warnings to stderr rather than into the broker's log. A bare class name is looked up in
# org.apache.kafka.tools (ConsumerGroupCommand lives in a sub-package).
tool() {
    local class="${1:?usage: $0 tool CLASS [ARGS...]}"
    shift
    case "$class" in
        *.*) ;;
        ConsumerGroupCommand | ShareGroupCommand) class="org.apache.kafka.tools.consumer.group.$class" ;;
        *) class="org.apache.kafka.tools.$class" ;;
    esac
    mkdir -p "$HOME_DIR" "$CONFIG_DIR" "$LOGS"
    fetch_jars
    cat >"$CONFIG_DIR/tools-log4j2.properties" <<EOF
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
    exec java -Xmx256m -Dlog4j2.configurationFile="$CONFIG_DIR/tools-log4j2.properties" \
        -cp "$LIBS/*" "$class" "$@"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    kill) kill_broker ;;
    status) status ;;
    tool) shift; tool "$@" ;;
    *) echo "usage: $0 {start|stop|kill|status|tool CLASS [ARGS...]}" >&2; exit 2 ;;
esac
