#!/usr/bin/env bash
# Builds the Kafka Streams peer with Maven into $ENCORE_PEER_HOME (default
# <repo>/.cache/kstreams-peer): target/kstreams-peer.jar and its runtime jars
# in target/libs (like ops/kafka/fetch.sh, nothing lands in the source tree).
# Idempotent: a marker holding the checksum of the pom, the sources and
# proto/event.proto makes a second run do nothing and need no network.
# Prints the target directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
home="${ENCORE_PEER_HOME:-$root/.cache/kstreams-peer}"
marker="$home/target/.built"
want="$(cd "$here" && find pom.xml src -type f -print0 | sort -z |
  xargs -0 sha256sum | cat - "$root/proto/event.proto" | sha256sum | cut -d' ' -f1)"
if [[ -f "$marker" && "$(<"$marker")" == "$want" ]]; then
  echo "$home/target"
  exit 0
fi
command -v mvn >/dev/null || { echo "kstreams-peer: mvn not found (ops/install-deps.sh installs maven)" >&2; exit 1; }
mkdir -p "$home"
exec 9>"$home/.build.lock"
flock 9
if [[ ! -f "$marker" || "$(<"$marker")" != "$want" ]]; then
  echo "kstreams-peer: building into $home/target" >&2
  rm -rf "$home/target"
  # Maven's output to stderr, less the colour codes of Debian's Maven 3.8.
  mvn -B -q -Dstyle.color=never -f "$here/pom.xml" -Dpeer.out="$home" package 2>&1 |
    sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2
  [[ -f "$home/target/kstreams-peer.jar" ]] || { echo "kstreams-peer: no jar after the build" >&2; exit 1; }
  printf '%s\n' "$want" >"$marker"
fi
echo "$home/target"
