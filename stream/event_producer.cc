#include "stream/event_producer.h"

#include "absl/strings/str_cat.h"
#include "state/status_macros.h"

namespace encore {

absl::StatusOr<std::unique_ptr<EventProducer>> EventProducer::Open(
    const KafkaClientConfig& client, const std::string& topic, int partitions) {
  auto p = std::unique_ptr<EventProducer>(new EventProducer());
  p->topic_ = topic;
  ASSIGN_OR_RETURN(
      rd_kafka_conf_t * conf,
      BuildKafkaConf(client, {{"enable.idempotence", "true"},
                              {"acks", "all"},
                              {"compression.codec", "lz4"},
                              {"linger.ms", "10"},
                              {"batch.size", "1000000"},
                              {"queue.buffering.max.messages", "1000000"},
                              {"partitioner", "murmur2_random"}}));
  rd_kafka_conf_set_opaque(conf, p.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &EventProducer::OnDelivery);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("producer: ", err));
  }
  p->rk_.reset(rk);
  RETURN_IF_ERROR(CreateTopic(rk, topic, partitions, 1, 10000));
  return p;
}

void EventProducer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m,
                               void* opaque) {
  auto* self = static_cast<EventProducer*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivered_.fetch_add(1);
  } else {
    self->failed_.fetch_add(1);
  }
}

absl::Status EventProducer::Send(const ListenEvent& event) {
  event.SerializeToString(&buffer_);
  return SendRaw(event.user_id(), buffer_);
}

absl::Status EventProducer::SendRaw(const std::string& key,
                                    const std::string& payload) {
  while (true) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
        RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_poll(rk_.get(), 0);
      return absl::OkStatus();
    }
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) return FromKafka(e, "produce");
    rd_kafka_poll(rk_.get(), 50);
  }
}

absl::Status EventProducer::Flush(int timeout_ms) {
  if (rd_kafka_flush(rk_.get(), timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(rd_kafka_outq_len(rk_.get()),
                                               " messages still undelivered"));
  }
  if (failed_.load() > 0) {
    return absl::DataLossError(
        absl::StrCat(failed_.load(), " messages failed delivery"));
  }
  return absl::OkStatus();
}

}  // namespace encore
