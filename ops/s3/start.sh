#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Starts a throw-away S3-compatible server (S3Proxy, filesystem backend) on
# 127.0.0.1:$S3_PORT for tests, with the bucket $S3_BUCKET and the fixed
# test credentials of common.sh, and prints its endpoint
# (http://127.0.0.1:PORT) as the last line on stdout (all else to stderr).
#
# Every real start wipes run-$S3_PORT/ under the cache dir, so each start
# begins with an empty bucket. If the server this script started on that
# port is still up and answering, it is reused and only the endpoint is
# printed, unless S3_FRESH=1.
#
# Environment (see also common.sh):
#   S3_FRESH=1          restart with empty data even if already running
#   S3_START_TIMEOUT    seconds to wait for the server (default 60)
#   S3_HEAP_OPTS        default "-Xmx256m"
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

s3_check_vars
start_timeout="${S3_START_TIMEOUT:-60}"
s3_lock_port

if pid="$(s3_running_pid)"; then
  if [[ "${S3_FRESH:-0}" != 1 ]] && s3_ready; then
    s3_log "already running (pid $pid) on ${S3_ENDPOINT}"
    printf '%s\n' "${S3_ENDPOINT}"
    exit 0
  fi
  s3_log "stopping pid $pid for a fresh start"
  s3_stop_pid "$pid"
fi
rm -f "${S3_PID_FILE}"

if s3_port_open "${S3_PORT}"; then
  s3_die "port ${S3_PORT} on ${S3_HOST} is taken by another process; set S3_PORT"
fi
command -v curl >/dev/null || s3_die "curl not found (ops/install-deps.sh installs it)"
command -v "${S3_JAVA}" >/dev/null || s3_die "java not found (need Java 17+)"
java_major="$("${S3_JAVA}" -version 2>&1 | sed -nE '1s/.*version "(1\.)?([0-9]+).*/\2/p')"
if [[ -z "$java_major" ]] || ((java_major < 17)); then
  s3_die "S3Proxy 4.x needs Java 17+, ${S3_JAVA} is '${java_major:-unknown}'"
fi

"${S3_OPS_DIR}/fetch.sh" 9>&-

rm -rf "${S3_RUN_DIR}"
# The filesystem backend keeps a bucket as a directory under its basedir
# and an object as a file (a key's "/" are directories).
mkdir -p "${S3_RUN_DIR}/data/${S3_BUCKET}"
props="${S3_RUN_DIR}/s3proxy.properties"
cat >"$props" <<PROPS
# Written by ops/s3/start.sh; rewritten on every start.
s3proxy.endpoint=${S3_ENDPOINT}
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=${S3_ACCESS_KEY_ID}
s3proxy.credential=${S3_SECRET_ACCESS_KEY}
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=${S3_RUN_DIR}/data
# Required by S3Proxy, unused by the filesystem backend.
jclouds.identity=local
jclouds.credential=local
PROPS

read -r -a heap_opts <<<"${S3_HEAP_OPTS:--Xmx256m}"
log_file="${S3_RUN_DIR}/server.log"
s3_log "starting S3Proxy on ${S3_ENDPOINT} (bucket ${S3_BUCKET}), log ${log_file}"
(
  # Hand the server no descriptor but stdin/stdout/stderr: an inherited
  # pipe (say, from a caller running `$(start.sh)`) or our lock would
  # otherwise stay open for the server's whole life.
  for fd in /proc/"${BASHPID}"/fd/*; do
    fd="${fd##*/}"
    if ((fd > 2)); then eval "exec ${fd}>&-"; fi
  done
  # setsid: own session, so the caller's Ctrl-C / process-group kill does
  # not reach the server; stop.sh does. C1 only and the serial collector:
  # the server lives for one test run and should start fast.
  exec setsid nohup "${S3_JAVA}" "${heap_opts[@]}" -XX:TieredStopAtLevel=1 \
    -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlogback.configurationFile="${S3_OPS_DIR}/logback.xml" \
    -cp "${S3_LIBS}/*" org.gaul.s3proxy.Main --properties "$props"
) </dev/null >"$log_file" 2>&1 &
pid=$!
printf '%s\n' "$pid" >"${S3_PID_FILE}"

deadline=$((SECONDS + start_timeout))
until s3_ready; do
  if ! s3_pid_alive "$pid"; then
    tail -n 40 "$log_file" >&2 || true
    rm -f "${S3_PID_FILE}"
    s3_die "server exited during startup; log: ${log_file}"
  fi
  if ((SECONDS >= deadline)); then
    tail -n 40 "$log_file" >&2 || true
    s3_stop_pid "$pid"
    rm -f "${S3_PID_FILE}"
    s3_die "server not ready after ${start_timeout}s; log: ${log_file}"
  fi
  sleep 0.2
done
s3_log "ready (pid $pid) after ${SECONDS}s"
printf '%s\n' "${S3_ENDPOINT}"
