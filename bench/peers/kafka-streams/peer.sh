#!/usr/bin/env bash
# Runs the Kafka Streams peer (building it first if needed); arguments go to
# encore.peer.Main (see Main.java), e.g.
#   peer.sh --brokers 127.0.0.1:29092 --topic T --state-dir DIR [--eos] [--dump F --sample 150]
# JVM heap: PEER_XMX (default 1g), stated in bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="$("$here/build.sh")"
exec java "-Xmx${PEER_XMX:-1g}" -cp "$target/kstreams-peer.jar:$target/libs/*" encore.peer.Main "$@"
