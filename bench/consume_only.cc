// consume_only: the reference for backfill speed (the physical limit of
// reading the topic on this machine). Reads every partition of a topic from
// the beginning to the high watermarks captured at start with librdkafka's
// batch consume, touching each payload (summing lengths) but neither
// decoding nor storing anything; prints messages/s. With --decode it also
// parses every payload as a ListenEvent (protobuf), as encore does before
// validation: the decode-only contender of bench/run.sh.
//
//   consume_only BROKERS TOPIC [--decode]
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "proto/event.pb.h"
#include "stream/kafka_client.h"

int main(int argc, char** argv) {
  const bool decode = argc == 4 && std::strcmp(argv[3], "--decode") == 0;
  if (argc != 3 && !decode) {
    std::fprintf(stderr, "usage: consume_only BROKERS TOPIC [--decode]\n");
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  encore::KafkaClientConfig client{argv[1], {}};
  // As encore's source sets it (stream/kafka_source.cc): with librdkafka's
  // default a reader that does any work per message, like decoding, waits
  // on paused fetches most of the time (measured on 2M events: 5.6 s wall
  // for 0.9 s of CPU), which is not the limit this contender stands for.
  client.properties.emplace("queued.min.messages", "1000000");
  auto conf =
      encore::BuildKafkaConf(client, {{"group.id", "consume-only-bench"},
                                      {"enable.auto.commit", "false"},
                                      {"enable.partition.eof", "true"}});
  if (!conf.ok()) return 1;
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof(err));
  if (rk == nullptr) return 1;
  auto ends = encore::EndOffsets(rk, argv[2], 10000);
  if (!ends.ok()) {
    std::fprintf(stderr, "%s\n", std::string(ends.status().message()).c_str());
    return 1;
  }
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(4);
  int64_t total = 0;
  for (const auto& [p, end] : *ends) {
    rd_kafka_topic_partition_list_add(parts, argv[2], p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    total += end;
  }
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_queue_t* q = rd_kafka_queue_get_consumer(rk);
  std::vector<rd_kafka_message_t*> batch(10000);
  std::map<int32_t, bool> done;
  int64_t count = 0, bytes = 0, undecodable = 0;
  encore::ListenEvent event;
  while (done.size() < ends->size()) {
    ssize_t n =
        rd_kafka_consume_batch_queue(q, 100, batch.data(), batch.size());
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = batch[i];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (m->offset >= ends->at(m->partition)) done[m->partition] = true;
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                 m->offset < ends->at(m->partition)) {
        ++count;
        bytes += static_cast<int64_t>(m->len);
        if (decode &&
            !event.ParseFromArray(m->payload, static_cast<int>(m->len))) {
          ++undecodable;
        }
      }
      rd_kafka_message_destroy(m);
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf(
      "%s: %lld messages (%lld bytes, %lld undecodable) in %.3f s: %.0f "
      "messages/s\n",
      decode ? "decode_only" : "consume_only", static_cast<long long>(count),
      static_cast<long long>(bytes), static_cast<long long>(undecodable), secs,
      count / secs);
  rd_kafka_queue_destroy(q);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return count == total ? 0 : 1;
}
