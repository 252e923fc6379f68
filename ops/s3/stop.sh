#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Stops the server that start.sh started on $S3_PORT (default 19700):
# SIGTERM, up to S3_STOP_TIMEOUT (default 10) s, then SIGKILL. Leaves the
# run dir (data and server.log) for inspection; the next start wipes it.
# Exits 0 when nothing is running.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

s3_check_vars
s3_lock_port
if pid="$(s3_running_pid)"; then
  s3_log "stopping S3Proxy pid $pid on ${S3_ENDPOINT}"
  s3_stop_pid "$pid"
  s3_log "stopped"
else
  s3_log "no S3Proxy from start.sh running on port ${S3_PORT}"
fi
rm -f "${S3_PID_FILE}"
