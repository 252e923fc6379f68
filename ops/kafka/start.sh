#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Starts a throw-away single-node Kafka (KRaft, broker+controller in one JVM)
# on 127.0.0.1:$KAFKA_PORT for tests, and prints its bootstrap address as the
# last line on stdout (all else goes to stderr).
#
# Every real start wipes and reformats run-$KAFKA_PORT/ under the cache dir,
# so each start begins with no topics and no offsets. If the broker this
# script started on that port is still up and answering, it is reused and
# only the address is printed, unless KAFKA_FRESH=1.
#
# Environment (see also common.sh):
#   KAFKA_FRESH=1          restart with empty data even if already running
#   KAFKA_KEEP_DATA=1      start a stopped broker on its existing data
#   KAFKA_START_TIMEOUT    seconds to wait for the broker (default 90)
#   KAFKA_HEAP_OPTS        default "-Xmx512m -Xms256m"
#   KAFKA_EXTRA_JAVA_OPTS  appended to the broker's java command line
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

kafka_check_port_vars
start_timeout="${KAFKA_START_TIMEOUT:-90}"
kafka_lock_port

if pid="$(kafka_running_pid)"; then
  if [[ "${KAFKA_FRESH:-0}" != 1 ]] && kafka_ready; then
    kafka_log "already running (pid $pid) on ${KAFKA_BOOTSTRAP}"
    printf '%s\n' "${KAFKA_BOOTSTRAP}"
    exit 0
  fi
  kafka_log "stopping pid $pid for a fresh start"
  kafka_stop_pid "$pid"
fi
rm -f "${KAFKA_PID_FILE}"

for p in "${KAFKA_PORT}" "${KAFKA_CONTROLLER_PORT}"; do
  if kafka_port_open "$p"; then
    kafka_die "port $p on ${KAFKA_HOST} is taken by another process; set KAFKA_PORT (and KAFKA_CONTROLLER_PORT)"
  fi
done

command -v "${KAFKA_JAVA}" >/dev/null || kafka_die "java not found (need Java 17+)"
java_major="$("${KAFKA_JAVA}" -version 2>&1 | sed -nE '1s/.*version "(1\.)?([0-9]+).*/\2/p')"
if [[ -z "$java_major" ]] || ((java_major < 17)); then
  kafka_die "Kafka 4.x needs Java 17+, ${KAFKA_JAVA} is '${java_major:-unknown}'"
fi

"${KAFKA_OPS_DIR}/fetch.sh" 9>&-

# KAFKA_KEEP_DATA=1 restarts a stopped broker on its existing log dir (topics,
# offsets and groups survive), as after a broker outage; otherwise every start
# is from nothing.
keep_data=0
if [[ "${KAFKA_KEEP_DATA:-0}" == 1 && -f "${KAFKA_RUN_DIR}/data/meta.properties" ]]; then
  keep_data=1
else
  rm -rf "${KAFKA_RUN_DIR}"
fi
mkdir -p "${KAFKA_RUN_DIR}/data"
props="${KAFKA_RUN_DIR}/server.properties"
cat >"$props" <<PROPS
# Written by ops/kafka/start.sh; rewritten on every fresh start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT},CONTROLLER://${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${KAFKA_RUN_DIR}/data

# Single node, tuned for tests.
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
PROPS

cp "${KAFKA_OPS_DIR}/log4j2.properties" "${KAFKA_RUN_DIR}/log4j2.properties"
cp_arg="${KAFKA_LIBS}/*"
log4j_opt="-Dlog4j2.configurationFile=${KAFKA_RUN_DIR}/log4j2.properties"

if ((keep_data)); then
  kafka_log "keeping the existing log dir ${KAFKA_RUN_DIR}/data"
else
  # 16 random bytes, URL-safe base64 as Kafka's own ids. It may start with
  # '-', so it is passed as --cluster-id=ID (a separate argument would be
  # taken for an option: a 1-in-32 formatting failure).
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  kafka_log "formatting ${KAFKA_RUN_DIR}/data (cluster id ${cluster_id})"
  if ! "${KAFKA_JAVA}" -Xmx256m -XX:TieredStopAtLevel=1 "$log4j_opt" -cp "$cp_arg" \
    kafka.tools.StorageTool format --config "$props" --cluster-id="$cluster_id" \
    >"${KAFKA_RUN_DIR}/format.log" 2>&1 9>&-; then
    cat "${KAFKA_RUN_DIR}/format.log" >&2
    kafka_die "formatting the log dir failed"
  fi
fi

read -r -a heap_opts <<<"${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
read -r -a extra_opts <<<"${KAFKA_EXTRA_JAVA_OPTS:-}"
log_file="${KAFKA_RUN_DIR}/server.log"
kafka_log "starting broker on ${KAFKA_BOOTSTRAP} (controller ${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}), log ${log_file}"
(
  # Hand the broker no descriptor but stdin/stdout/stderr: an inherited pipe
  # (say, from a caller running `$(start.sh)` or `... | tee`) or our lock
  # would otherwise stay open for the broker's whole life.
  for fd in /proc/"${BASHPID}"/fd/*; do
    fd="${fd##*/}"
    if ((fd > 2)); then eval "exec ${fd}>&-"; fi
  done
  # setsid: own session, so the caller's Ctrl-C / process-group kill
  # does not reach the broker; stop.sh does.
  exec setsid nohup "${KAFKA_JAVA}" "${heap_opts[@]}" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "$log4j_opt" -Dkafka.logs.dir="${KAFKA_RUN_DIR}" \
    "${extra_opts[@]}" -cp "$cp_arg" kafka.Kafka "$props"
) </dev/null >"$log_file" 2>&1 &
pid=$!
printf '%s\n' "$pid" >"${KAFKA_PID_FILE}"

deadline=$((SECONDS + start_timeout))
until kafka_ready; do
  if ! kafka_pid_alive "$pid"; then
    tail -n 40 "$log_file" >&2 || true
    rm -f "${KAFKA_PID_FILE}"
    kafka_die "broker exited during startup; log: ${log_file}"
  fi
  if ((SECONDS >= deadline)); then
    tail -n 40 "$log_file" >&2 || true
    kafka_stop_pid "$pid"
    rm -f "${KAFKA_PID_FILE}"
    kafka_die "broker not ready after ${start_timeout}s; log: ${log_file}"
  fi
  sleep 0.3
done
if ! command -v kcat >/dev/null; then
  # Only a TCP check was possible: give the broker a moment to register.
  sleep 2
fi
kafka_log "ready (pid $pid) after ${SECONDS}s"
printf '%s\n' "${KAFKA_BOOTSTRAP}"
