#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Collects the Kafka broker's jars (see pom.xml) into $ENCORE_KAFKA_HOME/libs
# with Maven. Idempotent: a marker holding the pom's checksum says the jars
# are complete, so a second run does nothing and needs no network; editing
# pom.xml (e.g. the Kafka version) makes the next run fetch afresh.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

pom="${KAFKA_OPS_DIR}/pom.xml"
marker="${KAFKA_LIBS}/.fetched"
want="$(sha256sum "$pom" | cut -d' ' -f1)"

if [[ -f "$marker" && "$(<"$marker")" == "$want" ]]; then
  exit 0
fi

command -v mvn >/dev/null || kafka_die "mvn not found (ops/install-deps.sh installs maven)"
mkdir -p "${KAFKA_CACHE}"
exec 9>"${KAFKA_CACHE}/.fetch.lock"
flock 9
# Another fetch may have finished while we waited for the lock.
if [[ -f "$marker" && "$(<"$marker")" == "$want" ]]; then
  exit 0
fi

kafka_log "fetching broker jars into ${KAFKA_LIBS}"
# Start from an empty dir so jars of an older version never share the classpath.
tmp="${KAFKA_CACHE}/libs.tmp"
rm -rf "$tmp"
# Maven's output goes to stderr (callers keep stdout for their result), less
# the colour codes Debian's Maven 3.8 prints even in batch mode.
mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
  -DoutputDirectory="$tmp" -DincludeScope=runtime 2>&1 |
  sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2
ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || kafka_die "no kafka_2.13 jar after fetch"
printf '%s\n' "$want" >"$tmp/.fetched"
rm -rf "${KAFKA_LIBS}"
mv "$tmp" "${KAFKA_LIBS}"
kafka_log "fetched $(find "${KAFKA_LIBS}" -name '*.jar' | wc -l) jars"
