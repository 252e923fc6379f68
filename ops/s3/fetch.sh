#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Collects S3Proxy's jars (see pom.xml) into $ENCORE_S3_HOME/libs with
# Maven. Idempotent: a marker holding the pom's checksum says the jars are
# complete, so a second run does nothing and needs no network; editing
# pom.xml (e.g. the version) makes the next run fetch afresh.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

pom="${S3_OPS_DIR}/pom.xml"
marker="${S3_LIBS}/.fetched"
want="$(sha256sum "$pom" | cut -d' ' -f1)"

if [[ -f "$marker" && "$(<"$marker")" == "$want" ]]; then
  exit 0
fi

command -v mvn >/dev/null || s3_die "mvn not found (ops/install-deps.sh installs maven)"
mkdir -p "${S3_CACHE}"
exec 9>"${S3_CACHE}/.fetch.lock"
flock 9
# Another fetch may have finished while we waited for the lock.
if [[ -f "$marker" && "$(<"$marker")" == "$want" ]]; then
  exit 0
fi

s3_log "fetching S3Proxy jars into ${S3_LIBS}"
# Start from an empty dir so jars of an older version never share the classpath.
tmp="${S3_CACHE}/libs.tmp"
rm -rf "$tmp"
# Maven's output goes to stderr (callers keep stdout for their result), less
# the colour codes Debian's Maven 3.8 prints even in batch mode.
mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
  -DoutputDirectory="$tmp" -DincludeScope=runtime 2>&1 |
  sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2
ls "$tmp"/s3proxy-*.jar >/dev/null 2>&1 || s3_die "no s3proxy jar after fetch"
printf '%s\n' "$want" >"$tmp/.fetched"
rm -rf "${S3_LIBS}"
mv "$tmp" "${S3_LIBS}"
s3_log "fetched $(find "${S3_LIBS}" -name '*.jar' | wc -l) jars"
