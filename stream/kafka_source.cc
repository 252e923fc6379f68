#include "stream/kafka_source.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <string_view>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "state/status_macros.h"
#include "stream/offset_continuity.h"

namespace encore {
namespace {

class KafkaSource final : public MessageSource {
 public:
  KafkaSource(KafkaSourceOptions options, PartitionListener* listener)
      : options_(std::move(options)), listener_(listener) {}

  ~KafkaSource() override {
    ReleaseMessages();
    // No wake-ups into this object from librdkafka's threads from here on.
    if (!lanes_.empty()) {
      rd_kafka_queue_cb_event_enable(queue_, nullptr, nullptr);
    }
    for (rd_kafka_queue_t* lane : lanes_) {
      rd_kafka_queue_cb_event_enable(lane, nullptr, nullptr);
    }
    if (!closed_ && rk_) UnrouteAssigned();
    for (rd_kafka_queue_t* lane : lanes_) rd_kafka_queue_destroy(lane);
    if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
    if (!closed_ && rk_) {
      detached_ = true;  // the listener may be gone: do not call it
      rd_kafka_consumer_close(rk_.get());
    }
  }

  absl::Status Start() {
    // librdkafka 2.0.2 stops fetching a partition for a long while once its
    // queue holds queued.min.messages (default 100000); a consumer that does
    // real work per message then waits on fetches most of the time (measured:
    // 1M events took 6.5 s instead of 2.6 s). Memory stays bounded by
    // queued.max.messages.kbytes per partition. A user setting wins.
    KafkaClientConfig client = options_.client;
    client.properties.try_emplace("queued.min.messages", "1000000");
    // Eager by default; "cooperative-sticky" moves only the partitions that
    // change owner, and the members keep consuming the others meanwhile.
    client.properties.try_emplace("partition.assignment.strategy",
                                  "range,roundrobin");
    ASSIGN_OR_RETURN(
        rd_kafka_conf_t * conf,
        BuildKafkaConf(
            client, {{"group.id", options_.group},
                     {"enable.auto.commit", "false"},
                     {"enable.auto.offset.store", "false"},
                     {"auto.offset.reset", options_.reset},
                     {"enable.partition.eof",
                      options_.assignment.empty() ? "false" : "true"},
                     {"statistics.interval.ms",
                      std::to_string(
                          (options_.on_consumer_lag || options_.on_brokers_up)
                              ? options_.statistics_interval_ms
                              : 0)}}));
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_stats_cb(conf, &KafkaSource::StatsTrampoline);
    rd_kafka_conf_set_error_cb(conf, &KafkaSource::ErrorTrampoline);
    rd_kafka_conf_set_rebalance_cb(conf, &KafkaSource::RebalanceTrampoline);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == nullptr) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("consumer: ", err));
    }
    rk_.reset(rk);
    // Messages and rebalances come on the consumer queue, read in batches;
    // statistics, logs and client errors stay on the main queue, served by
    // rd_kafka_poll() in Poll() (rd_kafka_consume_batch_queue does not call
    // the statistics callback).
    queue_ = rd_kafka_queue_get_consumer(rk);
    if (!options_.assignment.empty()) {
      rd_kafka_topic_partition_list_t* parts =
          rd_kafka_topic_partition_list_new(
              static_cast<int>(options_.assignment.size()));
      for (const auto& [p, offset] : options_.assignment) {
        rd_kafka_topic_partition_list_add(parts, options_.topic.c_str(), p)
            ->offset = offset >= 0 ? offset : RD_KAFKA_OFFSET_BEGINNING;
        continuity_.Assigned(p, offset);
      }
      rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
      rd_kafka_topic_partition_list_destroy(parts);
      detached_ = true;  // no group rebalances in assign mode
      return FromKafka(e, "assign " + options_.topic);
    }
    rd_kafka_topic_partition_list_t* topics =
        rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, options_.topic.c_str(),
                                      RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    return FromKafka(e, "subscribe to " + options_.topic);
  }

  absl::Status Poll(int max, int timeout_ms,
                    std::vector<Message>* out) override {
    out->clear();
    ReleaseMessages();
    rd_kafka_poll(rk_.get(), 0);
    return Consume(queue_, max, timeout_ms, out);
  }

  void RouteLanes(int lanes, std::function<int(int32_t)> lane_of) override {
    lane_of_ = std::move(lane_of);
    if (lanes_.empty() && lanes > 0) {
      rd_kafka_queue_cb_event_enable(queue_, &KafkaSource::WakeTrampoline,
                                     this);
    }
    while (static_cast<int>(lanes_.size()) < lanes) {
      rd_kafka_queue_t* lane = rd_kafka_queue_new(rk_.get());
      rd_kafka_queue_cb_event_enable(lane, &KafkaSource::WakeTrampoline, this);
      lanes_.push_back(lane);
    }
    // Assign mode: the partitions were assigned in Start(). What was fetched
    // before this stays on the consumer queue, which PollLanes reads first.
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk_.get(), &assigned) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      Route(assigned);
      rd_kafka_topic_partition_list_destroy(assigned);
    }
  }

  absl::Status PollLanes(int max, const std::vector<int>& room, int timeout_ms,
                         std::vector<Message>* out) override {
    if (lanes_.empty()) {
      return MessageSource::PollLanes(max, room, timeout_ms, out);
    }
    out->clear();
    ReleaseMessages();
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(timeout_ms);
    while (true) {
      {
        std::lock_guard<std::mutex> lock(wake_mu_);
        woken_ = false;
      }
      rd_kafka_poll(rk_.get(), 0);
      // The consumer queue first: rebalances (the listener and Route run
      // here), errors, and messages fetched before their partition had a
      // lane, which precede every message of that partition in its lane.
      RETURN_IF_ERROR(Consume(queue_, max, 0, out));
      for (size_t i = 0; i < lanes_.size() && i < room.size(); ++i) {
        const int take = std::min(room[i], max - static_cast<int>(out->size()));
        if (take > 0) RETURN_IF_ERROR(Consume(lanes_[i], take, 0, out));
      }
      if (!out->empty() || std::chrono::steady_clock::now() >= deadline) {
        return absl::OkStatus();
      }
      // Every queue with room was empty: wait for librdkafka to put
      // something on one (WakeTrampoline), then look again.
      std::unique_lock<std::mutex> lock(wake_mu_);
      wake_.wait_until(lock, deadline, [&] { return woken_; });
    }
  }

  void CommitOffsetsAsync(const std::map<int32_t, int64_t>& next) override {
    if (next.empty()) return;
    // Offsets in Kafka only report progress (the state holds its own), and
    // the next commit carries newer ones: none is lost by skipping.
    if (SteadyMs() < no_commits_until_ms_.load()) return;
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(next.size()));
    for (const auto& [p, offset] : next) {
      rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), p)
          ->offset = offset;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(rk_.get(), list, /*async=*/1);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::debug("kafka offset commit: {}", rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(list);
  }

  absl::Status Close() override {
    if (closed_) return fatal_;
    closed_ = true;
    ReleaseMessages();
    // In group mode this triggers a final revoke through the rebalance
    // callback; in assign mode the listener is not involved.
    if (!options_.assignment.empty()) {
      UnrouteAssigned();
      rd_kafka_assign(rk_.get(), nullptr);
    }
    rd_kafka_resp_err_t e = rd_kafka_consumer_close(rk_.get());
    RETURN_IF_ERROR(fatal_);
    return FromKafka(e, "close consumer");
  }

 private:
  // Takes up to `max` events from `queue` (waiting up to timeout_ms for the
  // first) and appends its messages to *out. The librdkafka messages stay
  // in batch_, alive until the next poll.
  absl::Status Consume(rd_kafka_queue_t* queue, int max, int timeout_ms,
                       std::vector<Message>* out) {
    const size_t first = batch_.size();
    batch_.resize(first + static_cast<size_t>(max));
    const ssize_t n = rd_kafka_consume_batch_queue(
        queue, timeout_ms, batch_.data() + first, static_cast<size_t>(max));
    batch_.resize(first + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (!fatal_.ok()) return fatal_;
    if (n < 0) return FromKafka(rd_kafka_last_error(), "consume");
    sought_.clear();
    for (size_t i = first; i < batch_.size(); ++i) {
      const rd_kafka_message_t* m = batch_[i];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        Message eof;
        eof.partition = m->partition;
        eof.offset = m->offset;
        eof.partition_eof = true;
        out->push_back(eof);
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
          char reason[512];
          rd_kafka_fatal_error(rk_.get(), reason, sizeof(reason));
          return absl::InternalError(absl::StrCat("kafka fatal: ", reason));
        }
        spdlog::warn("kafka: {}", rd_kafka_message_errstr(m));
        continue;
      }
      // Served before a seek back: fetched again after it.
      if (absl::c_linear_search(sought_, m->partition)) continue;
      if (continuity_.Check(m->partition, m->offset) ==
          OffsetContinuity::kSeekBack) {
        SeekBack(m->partition, m->offset);
        continue;
      }
      Message msg;
      msg.partition = m->partition;
      msg.offset = m->offset;
      rd_kafka_timestamp_type_t type;
      msg.timestamp_ms = rd_kafka_message_timestamp(m, &type);
      msg.key = absl::string_view(static_cast<const char*>(m->key), m->key_len);
      msg.payload =
          absl::string_view(static_cast<const char*>(m->payload), m->len);
      out->push_back(msg);
    }
    return absl::OkStatus();
  }

  static void WakeTrampoline(rd_kafka_t*, void* opaque) {
    auto* self = static_cast<KafkaSource*>(opaque);
    {
      std::lock_guard<std::mutex> lock(self->wake_mu_);
      self->woken_ = true;
    }
    self->wake_.notify_one();
  }

  // Forwards each partition's queue to its lane. Done before the partition
  // is assigned (librdkafka then leaves the forwarding alone when it starts
  // fetching) or, in assign mode, right after.
  void Route(const rd_kafka_topic_partition_list_t* parts) {
    if (!lane_of_) return;
    for (int i = 0; i < parts->cnt; ++i) {
      const int lane = lane_of_(parts->elems[i].partition);
      if (lane < 0 || lane >= static_cast<int>(lanes_.size())) continue;
      rd_kafka_queue_t* q = rd_kafka_queue_get_partition(
          rk_.get(), parts->elems[i].topic, parts->elems[i].partition);
      if (q == nullptr) continue;
      rd_kafka_queue_forward(q, lanes_[static_cast<size_t>(lane)]);
      rd_kafka_queue_destroy(q);
    }
  }

  // Points every assigned partition's queue back at the consumer queue
  // before an unassign, as librdkafka's maintainers advise (a partition
  // queue left forwarded to an application queue may not deliver after a
  // later assignment). Messages left in a lane are outdated once their
  // partition is unassigned, and librdkafka drops them when served.
  void UnrouteAssigned() {
    if (lanes_.empty()) return;
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk_.get(), &assigned) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return;
    }
    Unroute(assigned);
    rd_kafka_topic_partition_list_destroy(assigned);
  }

  // The same for the partitions in `parts` only.
  void Unroute(const rd_kafka_topic_partition_list_t* parts) {
    if (lanes_.empty()) return;
    for (int i = 0; i < parts->cnt; ++i) {
      rd_kafka_queue_t* q = rd_kafka_queue_get_partition(
          rk_.get(), parts->elems[i].topic, parts->elems[i].partition);
      if (q == nullptr) continue;
      rd_kafka_queue_forward(q, queue_);
      rd_kafka_queue_destroy(q);
    }
  }

  static int StatsTrampoline(rd_kafka_t*, char* json, size_t len,
                             void* opaque) {
    static_cast<KafkaSource*>(opaque)->OnStats(std::string_view(json, len));
    return 0;  // librdkafka frees json
  }

  // Client-level errors (served by rd_kafka_poll): librdkafka retries and
  // reconnects by itself; these are reported, and "all brokers down" marks
  // the brokers unreachable until statistics show one up again.
  static void ErrorTrampoline(rd_kafka_t*, int err, const char* reason,
                              void* opaque) {
    auto* self = static_cast<KafkaSource*>(opaque);
    spdlog::warn("kafka: {} ({})", reason,
                 rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN &&
        self->options_.on_brokers_up) {
      self->options_.on_brokers_up(0);
    }
  }

  // Reads topics.<topic>.partitions.<p>.consumer_lag (-1 when unknown, e.g.
  // for partitions not assigned here) from librdkafka's statistics JSON.
  void OnStats(std::string_view json) {
    nlohmann::json stats = nlohmann::json::parse(json, nullptr, false);
    if (stats.is_discarded()) return;
    if (options_.on_brokers_up && stats.contains("brokers")) {
      // Distinct real brokers that are up: not the bootstrap entries
      // (nodeid -1) nor the logical GroupCoordinator, which is one of the
      // others again.
      std::set<int> up;
      for (const auto& [name, b] : stats["brokers"].items()) {
        if (b.value("nodeid", -1) >= 0 && b.value("state", "") == "UP" &&
            b.value("source", "") != "logical") {
          up.insert(b.value("nodeid", -1));
        }
      }
      options_.on_brokers_up(static_cast<int>(up.size()));
    }
    if (!options_.on_consumer_lag) return;
    auto topic = stats.find("topics");
    if (topic == stats.end() || !topic->contains(options_.topic)) return;
    const nlohmann::json& parts = (*topic)[options_.topic]["partitions"];
    for (auto it = parts.begin(); it != parts.end(); ++it) {
      const int64_t lag = it.value().value("consumer_lag", int64_t{-1});
      const int64_t id = it.value().value("partition", int64_t{-1});
      if (lag >= 0 && id >= 0)
        options_.on_consumer_lag(static_cast<int32_t>(id), lag);
    }
  }

  static void RebalanceTrampoline(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t* parts,
                                  void* opaque) {
    static_cast<KafkaSource*>(opaque)->Rebalance(err, parts);
  }

  // Eager protocols hand over the whole assignment at every rebalance;
  // the cooperative one only the partitions that change owner, added to or
  // taken from the current assignment incrementally. The listener is told
  // about those partitions alone either way.
  void Rebalance(rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* parts) {
    if (detached_) {
      rd_kafka_assign(rk_.get(), nullptr);
      return;
    }
    // Asked of the group's thread (a request waited for without a time
    // limit), which stops answering during rd_kafka_consumer_close(): it
    // returned NULL there while a rebalance was under way. The revocation
    // that the close makes uses the protocol of the rebalances before.
    if (!closed_) {
      if (const char* protocol = rd_kafka_rebalance_protocol(rk_.get())) {
        cooperative_ = std::strcmp(protocol, "COOPERATIVE") == 0;
      }
    }
    const bool cooperative = cooperative_;
    std::vector<int32_t> ids;
    for (int i = 0; i < parts->cnt; ++i)
      ids.push_back(parts->elems[i].partition);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      absl::StatusOr<std::map<int32_t, int64_t>> starts =
          fatal_.ok() ? listener_->OnAssigned(ids)
                      : absl::StatusOr<std::map<int32_t, int64_t>>(fatal_);
      if (!starts.ok()) {
        // Nothing of it is consumed; the next Poll reports the failure.
        fatal_ = starts.status();
        if (!cooperative) rd_kafka_assign(rk_.get(), nullptr);
        return;
      }
      for (int i = 0; i < parts->cnt; ++i) {
        auto it = starts->find(parts->elems[i].partition);
        const int64_t start = it == starts->end() ? kResetOffset : it->second;
        // Without a stored offset, start at the reset point, never at the
        // group's committed offset: that one may be ahead of a state that
        // was lost or replaced.
        parts->elems[i].offset = start >= 0 ? start
                                 : options_.reset == "latest"
                                     ? RD_KAFKA_OFFSET_END
                                     : RD_KAFKA_OFFSET_BEGINNING;
        continuity_.Assigned(parts->elems[i].partition, start);
      }
      Route(parts);
      if (cooperative) PauseCommits();
      if (cooperative) {
        Check(rd_kafka_incremental_assign(rk_.get(), parts), "assign");
      } else {
        rd_kafka_assign(rk_.get(), parts);
      }
    } else {
      if (fatal_.ok()) {
        absl::Status s = listener_->OnRevoked(ids);
        if (!s.ok()) fatal_ = s;
      }
      for (int32_t id : ids) continuity_.Revoked(id);
      if (cooperative) {
        PauseCommits();
        Unroute(parts);
        Check(rd_kafka_incremental_unassign(rk_.get(), parts), "unassign");
      } else {
        // The whole assignment, as an eager revocation lists it (not asked
        // of the group's thread: this may run inside the close).
        Unroute(parts);
        rd_kafka_assign(rk_.get(), nullptr);
      }
    }
  }

  // A cooperative rebalance goes in rounds: the members that give
  // partitions up rejoin, which bumps the group's generation for every
  // member. librdkafka 2.0 takes a commit that meets the next generation
  // (ILLEGAL_GENERATION) for a lost assignment and revokes every partition
  // (librdkafka issue 4059, fixed in 2.10). Kafka offsets only report
  // progress here (the state holds its own), so commits pause for a while
  // after each callback of a cooperative rebalance.
  void PauseCommits() {
    no_commits_until_ms_ = SteadyMs() + kRebalanceCommitPauseMs;
  }

  static int64_t SteadyMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // `partition`'s message at `offset` came past continuity_.expected():
  // fetch from there again. Its messages served so far are dropped; those
  // librdkafka still holds are outdated by the seek and never served.
  void SeekBack(int32_t partition, int64_t offset) {
    const int64_t expected = continuity_.expected(partition);
    sought_.push_back(partition);
    spdlog::warn(
        "partition {}: the consumer jumped from offset {} to {}; fetching "
        "again from {}",
        partition, expected, offset, expected);
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), partition)
        ->offset = expected;
    // Asynchronous (no wait): an error shows as the jump being taken next.
    rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_.get(), list, 0);
    if (error != nullptr) {
      spdlog::warn("partition {}: seek to {}: {}", partition, expected,
                   rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
    rd_kafka_topic_partition_list_destroy(list);
  }

  // Keeps the first error of an incremental (un)assignment for Poll.
  void Check(rd_kafka_error_t* error, const char* what) {
    if (error == nullptr) return;
    if (fatal_.ok()) {
      fatal_ = absl::InternalError(absl::StrCat("incremental ", what, ": ",
                                                rd_kafka_error_string(error)));
    }
    rd_kafka_error_destroy(error);
  }

  void ReleaseMessages() {
    for (rd_kafka_message_t* m : batch_) {
      if (m != nullptr) rd_kafka_message_destroy(m);
    }
    batch_.clear();
  }

  const KafkaSourceOptions options_;
  PartitionListener* const listener_;
  KafkaHandle rk_;
  rd_kafka_queue_t* queue_ = nullptr;
  // Lanes (RouteLanes): one application queue per lane, each assigned
  // partition's queue forwarded to its own; librdkafka wakes a waiting
  // PollLanes through wake_ when an empty lane or queue_ gets an event.
  std::vector<rd_kafka_queue_t*> lanes_;
  std::function<int(int32_t)> lane_of_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool woken_ = false;
  std::vector<rd_kafka_message_t*> batch_;
  // Offset order per partition, and the partitions sought back in the
  // batch being converted.
  OffsetContinuity continuity_;
  std::vector<int32_t> sought_;
  absl::Status fatal_;
  bool closed_ = false;
  bool detached_ = false;
  bool cooperative_ = false;  // the rebalance protocol last seen
  // Offset commits are skipped until then (steady clock, ms): a
  // cooperative rebalance is under way.
  static constexpr int64_t kRebalanceCommitPauseMs = 15'000;
  std::atomic<int64_t> no_commits_until_ms_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<MessageSource>> NewKafkaSource(
    const KafkaSourceOptions& options, PartitionListener* listener) {
  auto source = std::make_unique<KafkaSource>(options, listener);
  RETURN_IF_ERROR(source->Start());
  return std::unique_ptr<MessageSource>(std::move(source));
}

}  // namespace encore
