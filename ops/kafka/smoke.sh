#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Smoke test of the test broker with the system librdkafka (through kcat):
# creates a 4-partition topic with Kafka's TopicCommand, produces 1000 keyed
# messages (idempotent, acks=all, lz4), consumes them back in a consumer
# group and checks the group's committed offsets cover all 1000.
# Expects a broker from start.sh on KAFKA_PORT (default 9092); needs kcat.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

command -v kcat >/dev/null || kafka_die "smoke.sh needs kcat (Debian package kcat)"
n=1000
id="smoke-$$-${RANDOM}"
topic="$id" group="$id-group"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

kafka_log "librdkafka: $(kcat -V 2>&1 | grep -o 'librdkafka [0-9.]*')"
"${KAFKA_OPS_DIR}/tool.sh" topics --bootstrap-server "${KAFKA_BOOTSTRAP}" \
  --create --topic "$topic" --partitions 4 --replication-factor 1 >&2

for ((i = 0; i < n; i++)); do
  printf 'key-%d:value-%d\n' $((i % 37)) "$i"
done >"$work/sent"
kcat -b "${KAFKA_BOOTSTRAP}" -P -t "$topic" -K: -z lz4 \
  -X enable.idempotence=true -X acks=all -l "$work/sent"

timeout 60 kcat -b "${KAFKA_BOOTSTRAP}" -G "$group" "$topic" -c "$n" \
  -X auto.offset.reset=earliest -f '%k:%s\n' -q >"$work/got"
if ! cmp -s <(sort "$work/sent") <(sort "$work/got"); then
  kafka_die "consumed messages differ from the $n produced"
fi
kafka_log "consumed all $n messages in group $group"

"${KAFKA_OPS_DIR}/tool.sh" groups --bootstrap-server "${KAFKA_BOOTSTRAP}" \
  --describe --group "$group" >"$work/group" 2>/dev/null
cat "$work/group" >&2
committed="$(awk -v t="$topic" '$2 == t { s += $4 } END { print s + 0 }' "$work/group")"
[[ "$committed" == "$n" ]] || kafka_die "committed offsets sum to $committed, want $n"

"${KAFKA_OPS_DIR}/tool.sh" topics --bootstrap-server "${KAFKA_BOOTSTRAP}" \
  --delete --topic "$topic" >&2
kafka_log "smoke test passed on ${KAFKA_BOOTSTRAP}"
