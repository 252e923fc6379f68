# shellcheck shell=bash disable=SC2034
# Shared settings for ops/s3/*.sh. Sourced, not run.
#
# Environment:
#   ENCORE_S3_HOME    cache dir (default <repo>/.cache/s3proxy): jars in
#                     libs/, one run dir per port in run-$S3_PORT/
#   S3_PORT           port on 127.0.0.1 (default 19700)
#   S3_BUCKET         bucket that start.sh creates (default encore-test)
#   JAVA_HOME         optional; otherwise `java` on PATH (needs 17+)
#
# The server takes only the fixed test credentials below (SigV4 or V2),
# region us-east-1.

S3_OPS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
S3_REPO_ROOT="$(cd "${S3_OPS_DIR}/../.." && pwd)"
S3_CACHE="${ENCORE_S3_HOME:-${S3_REPO_ROOT}/.cache/s3proxy}"
[[ "${S3_CACHE}" == /* ]] || S3_CACHE="${PWD}/${S3_CACHE}"
S3_LIBS="${S3_CACHE}/libs"
S3_PORT="${S3_PORT:-19700}"
S3_BUCKET="${S3_BUCKET:-encore-test}"
S3_HOST=127.0.0.1
S3_ENDPOINT="http://${S3_HOST}:${S3_PORT}"
S3_ACCESS_KEY_ID=encore-test
S3_SECRET_ACCESS_KEY=encore-test-secret
S3_REGION=us-east-1
S3_RUN_DIR="${S3_CACHE}/run-${S3_PORT}"
S3_PID_FILE="${S3_RUN_DIR}/s3proxy.pid"

if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
  S3_JAVA="${JAVA_HOME}/bin/java"
else
  S3_JAVA=java
fi

s3_log() { printf 's3: %s\n' "$*" >&2; }
s3_die() { s3_log "error: $*"; exit 1; }

s3_check_vars() {
  if ! [[ "${S3_PORT}" =~ ^[0-9]+$ ]] || ((S3_PORT < 1 || S3_PORT > 65535)); then
    s3_die "bad port '${S3_PORT}' (S3_PORT)"
  fi
  [[ "${S3_BUCKET}" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] ||
    s3_die "bad bucket name '${S3_BUCKET}' (S3_BUCKET)"
}

# True if something accepts TCP connections on 127.0.0.1:$1.
s3_port_open() {
  (exec 3<>"/dev/tcp/${S3_HOST}/$1") 2>/dev/null
}

# True if pid $1 is the server start.sh runs from S3_RUN_DIR (its command
# line names that run dir's properties file; guards against pid reuse).
s3_is_our_server() {
  local -a argv
  mapfile -d '' -t argv <"/proc/$1/cmdline" 2>/dev/null || return 1
  [[ " ${argv[*]} " == *" --properties ${S3_RUN_DIR}/s3proxy.properties "* ]]
}

# True if pid $1 exists and is not a zombie.
s3_pid_alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
  stat="${stat##*) }" # the state letter follows "pid (comm) "
  [[ "${stat:0:1}" != Z ]]
}

# Prints the pid of the server that start.sh started for S3_PORT, if alive:
# from the pid file, or, if that is gone, by its exact command line.
s3_running_pid() {
  local pid f
  if [[ -f "${S3_PID_FILE}" ]]; then
    pid="$(<"${S3_PID_FILE}")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && s3_pid_alive "$pid" && s3_is_our_server "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"
    pid="${pid%/cmdline}"
    if s3_is_our_server "$pid" && s3_pid_alive "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 1
}

# Stops pid $1: SIGTERM, up to S3_STOP_TIMEOUT (default 10) seconds, then
# SIGKILL.
s3_stop_pid() {
  local pid="$1" timeout="${S3_STOP_TIMEOUT:-10}" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 10; i++)); do
    s3_pid_alive "$pid" || return 0
    sleep 0.1
  done
  s3_log "pid $pid still alive after ${timeout}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    s3_pid_alive "$pid" || return 0
    sleep 0.1
  done
  s3_die "pid $pid survived SIGKILL"
}

# Serialises start.sh / stop.sh for one port. Uses fd 9; children must
# close it (9>&-).
s3_lock_port() {
  mkdir -p "${S3_CACHE}"
  exec 9>"${S3_CACHE}/run-${S3_PORT}.lock"
  flock -w "${S3_LOCK_TIMEOUT:-120}" 9 ||
    s3_die "timed out waiting for another start/stop on port ${S3_PORT}"
}

# True once the server answers a signed ListObjectsV2 on the bucket with
# 200: listening, credentials accepted, bucket there. curl 7.88 signs with
# --aws-sigv4 but adds no x-amz-content-sha256, which S3 wants: it is the
# hash of the empty body here.
s3_ready() {
  s3_port_open "${S3_PORT}" || return 1
  local code
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 \
    --aws-sigv4 "aws:amz:${S3_REGION}:s3" \
    --user "${S3_ACCESS_KEY_ID}:${S3_SECRET_ACCESS_KEY}" \
    -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
    "${S3_ENDPOINT}/${S3_BUCKET}?list-type=2&max-keys=1" 2>/dev/null)" || return 1
  [[ "$code" == 200 ]]
}
