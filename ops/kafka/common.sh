# shellcheck shell=bash disable=SC2034
# Shared settings for ops/kafka/*.sh. Sourced, not run.
#
# Environment:
#   ENCORE_KAFKA_HOME      cache dir (default <repo>/.cache/kafka): jars in
#                          libs/, one run dir per port in run-$KAFKA_PORT/
#   KAFKA_PORT             PLAINTEXT listener port (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default KAFKA_PORT+1)
#   JAVA_HOME              optional; otherwise `java` on PATH (needs 17+)

KAFKA_OPS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_REPO_ROOT="$(cd "${KAFKA_OPS_DIR}/../.." && pwd)"
KAFKA_CACHE="${ENCORE_KAFKA_HOME:-${KAFKA_REPO_ROOT}/.cache/kafka}"
[[ "${KAFKA_CACHE}" == /* ]] || KAFKA_CACHE="${PWD}/${KAFKA_CACHE}"
KAFKA_LIBS="${KAFKA_CACHE}/libs"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HOST=127.0.0.1
KAFKA_BOOTSTRAP="${KAFKA_HOST}:${KAFKA_PORT}"
KAFKA_RUN_DIR="${KAFKA_CACHE}/run-${KAFKA_PORT}"
KAFKA_PID_FILE="${KAFKA_RUN_DIR}/kafka.pid"

if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
  KAFKA_JAVA="${JAVA_HOME}/bin/java"
else
  KAFKA_JAVA=java
fi

kafka_log() { printf 'kafka: %s\n' "$*" >&2; }
kafka_die() { kafka_log "error: $*"; exit 1; }

kafka_check_port_vars() {
  local p
  for p in "${KAFKA_PORT}" "${KAFKA_CONTROLLER_PORT}"; do
    if ! [[ "$p" =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then
      kafka_die "bad port '$p' (KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
    fi
  done
  [[ "${KAFKA_PORT}" != "${KAFKA_CONTROLLER_PORT}" ]] ||
    kafka_die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
}

# True if something accepts TCP connections on 127.0.0.1:$1.
kafka_port_open() {
  (exec 3<>"/dev/tcp/${KAFKA_HOST}/$1") 2>/dev/null
}

# True if pid $1 is the broker start.sh runs from KAFKA_RUN_DIR (its command
# line names that run dir's server.properties; guards against pid reuse).
kafka_is_our_broker() {
  local -a argv
  mapfile -d '' -t argv <"/proc/$1/cmdline" 2>/dev/null || return 1
  [[ " ${argv[*]} " == *" kafka.Kafka ${KAFKA_RUN_DIR}/server.properties "* ]]
}

# Prints the pid of the broker that start.sh started for KAFKA_PORT, if it
# is alive: from the pid file, or, if that is gone (say, the run dir was
# deleted under a running broker), by looking for exactly that command line.
kafka_running_pid() {
  local pid f
  if [[ -f "${KAFKA_PID_FILE}" ]]; then
    pid="$(<"${KAFKA_PID_FILE}")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kafka_pid_alive "$pid" && kafka_is_our_broker "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"
    pid="${pid%/cmdline}"
    if kafka_is_our_broker "$pid" && kafka_pid_alive "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 1
}

# True if pid $1 exists and is not a zombie.
kafka_pid_alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
  stat="${stat##*) }" # the state letter follows "pid (comm) "
  [[ "${stat:0:1}" != Z ]]
}

# Stops pid $1: SIGTERM, up to KAFKA_STOP_TIMEOUT (default 20) seconds for a
# clean shutdown, then SIGKILL.
kafka_stop_pid() {
  local pid="$1" timeout="${KAFKA_STOP_TIMEOUT:-20}" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 10; i++)); do
    kafka_pid_alive "$pid" || return 0
    sleep 0.1
  done
  kafka_log "pid $pid still alive after ${timeout}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kafka_pid_alive "$pid" || return 0
    sleep 0.1
  done
  kafka_die "pid $pid survived SIGKILL"
}

# Serialises start.sh / stop.sh for one port. The lock file lives beside the
# run dir, which start.sh deletes. Uses fd 9; children must close it (9>&-).
kafka_lock_port() {
  mkdir -p "${KAFKA_CACHE}"
  exec 9>"${KAFKA_CACHE}/run-${KAFKA_PORT}.lock"
  flock -w "${KAFKA_LOCK_TIMEOUT:-180}" 9 ||
    kafka_die "timed out waiting for another start/stop on port ${KAFKA_PORT}"
}

# True once the broker answers a Kafka metadata request and lists itself.
# Uses kcat (Debian package `kcat`, which links the system librdkafka) when
# installed, else falls back to a TCP connect.
# The TCP check first keeps polling cheap: kcat waits its whole -m timeout
# when nothing listens yet.
kafka_ready() {
  kafka_port_open "${KAFKA_PORT}" || return 1
  if command -v kcat >/dev/null; then
    local md
    md="$(kcat -b "${KAFKA_BOOTSTRAP}" -L -m 5 2>/dev/null)" || return 1
    [[ "$md" == *"broker 1 at ${KAFKA_BOOTSTRAP}"* ]]
  fi
}
