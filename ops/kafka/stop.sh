#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Stops the broker that start.sh started on $KAFKA_PORT (default 9092):
# SIGTERM, up to KAFKA_STOP_TIMEOUT (default 20) s, then SIGKILL. Leaves the
# run dir (data and server.log) for inspection; the next start wipes it.
# Exits 0 when nothing is running.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

kafka_check_port_vars
kafka_lock_port
if pid="$(kafka_running_pid)"; then
  kafka_log "stopping broker pid $pid on ${KAFKA_BOOTSTRAP}"
  kafka_stop_pid "$pid"
  kafka_log "stopped"
else
  kafka_log "no broker from start.sh running on port ${KAFKA_PORT}"
fi
rm -f "${KAFKA_PID_FILE}"
