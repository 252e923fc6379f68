#include "stream/kafka_dead_letter.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "state/status_macros.h"

namespace encore {
namespace {

class KafkaDeadLetterSink final : public DeadLetterSink {
 public:
  explicit KafkaDeadLetterSink(std::string topic) : topic_(std::move(topic)) {}
  ~KafkaDeadLetterSink() override {
    if (rk_) rd_kafka_flush(rk_.get(), 5000);
  }

  absl::Status Start(const KafkaClientConfig& client) {
    KafkaClientConfig c = ProducerConfig(client);
    ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                     BuildKafkaConf(c, {{"enable.idempotence", "true"},
                                        {"acks", "all"},
                                        {"linger.ms", "20"},
                                        {"compression.codec", "lz4"}}));
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaDeadLetterSink::OnDelivery);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == nullptr) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(
          absl::StrCat("dead-letter producer: ", err));
    }
    rk_.reset(rk);
    // The topic itself is created once by the command, after it checked
    // that the events topic exists (stream/topic_setup.h).
    return absl::OkStatus();
  }

  absl::Status Send(const std::string& origin_topic, const Message& m,
                    const Verdict& verdict) override {
    const std::string partition = absl::StrCat(m.partition);
    const std::string offset = absl::StrCat(m.offset);
    const absl::string_view reason = RejectReasonName(verdict.reason);
    for (int attempt = 0;; ++attempt) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(m.payload.data()),
                           m.payload.size()),
          RD_KAFKA_V_HEADER("encore.origin.topic", origin_topic.data(),
                            origin_topic.size()),
          RD_KAFKA_V_HEADER("encore.origin.partition", partition.data(),
                            partition.size()),
          RD_KAFKA_V_HEADER("encore.origin.offset", offset.data(),
                            offset.size()),
          RD_KAFKA_V_HEADER("encore.reason", reason.data(), reason.size()),
          RD_KAFKA_V_HEADER("encore.detail", verdict.detail.data(),
                            verdict.detail.size()),
          RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= 100) {
        return FromKafka(e, "dead-letter produce");
      }
      rd_kafka_poll(rk_.get(), 100);  // let deliveries drain the queue
    }
  }

  absl::Status Flush(int timeout_ms) override {
    rd_kafka_resp_err_t e = rd_kafka_flush(rk_.get(), timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("dead-letter flush: ", rd_kafka_outq_len(rk_.get()),
                       " records still outstanding"));
    }
    return absl::OkStatus();
  }

  uint64_t failures() const override { return failures_.load(); }

 private:
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m,
                         void* opaque) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    auto* self = static_cast<KafkaDeadLetterSink*>(opaque);
    self->failures_.fetch_add(1);
    spdlog::error("dead-letter delivery failed: {}", rd_kafka_err2str(m->err));
  }

  const std::string topic_;
  KafkaHandle rk_;
  std::atomic<uint64_t> failures_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeadLetterSink>> NewKafkaDeadLetterSink(
    const KafkaClientConfig& client, const std::string& topic) {
  auto sink = std::make_unique<KafkaDeadLetterSink>(topic);
  RETURN_IF_ERROR(sink->Start(client));
  return std::unique_ptr<DeadLetterSink>(std::move(sink));
}

}  // namespace encore
