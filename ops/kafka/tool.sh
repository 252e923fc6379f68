#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Runs one of Kafka's admin tools from the cached jars, like the kafka-*.sh
# scripts of Kafka's own distribution, e.g.
#   ops/kafka/tool.sh topics --bootstrap-server 127.0.0.1:9092 \
#       --create --topic t --partitions 4
#   ops/kafka/tool.sh groups --bootstrap-server 127.0.0.1:9092 \
#       --describe --group g
#   ops/kafka/tool.sh org.apache.kafka.tools.GetOffsetShell ...
# Fetches the jars first if needed (see fetch.sh).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if (($# == 0)); then
  kafka_die "usage: $0 topics|groups|offsets|api-versions|storage|CLASS [args...]"
fi
case "$1" in
  topics) main=org.apache.kafka.tools.TopicCommand ;;
  groups) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  offsets) main=org.apache.kafka.tools.GetOffsetShell ;;
  api-versions) main=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
  storage) main=kafka.tools.StorageTool ;;
  *.*) main="$1" ;;
  *) kafka_die "unknown tool '$1'" ;;
esac
shift

"${KAFKA_OPS_DIR}/fetch.sh"
# The tools log WARN and up only, to stderr.
exec "${KAFKA_JAVA}" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
  -Dlog4j2.configurationFile="${KAFKA_OPS_DIR}/log4j2-tools.properties" \
  -cp "${KAFKA_LIBS}/*" "$main" "$@"
