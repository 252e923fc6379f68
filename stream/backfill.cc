#include "stream/backfill.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "state/file_util.h"
#include "state/status_macros.h"

namespace encore {

int64_t BackfillPlan::TotalMessages() const {
  int64_t total = 0;
  for (const auto& [p, e] : end) {
    auto s = start.find(p);
    if (s != start.end() && e > s->second) total += e - s->second;
  }
  return total;
}

std::vector<std::vector<int32_t>> SplitPlan(const BackfillPlan& plan,
                                            int workers) {
  const int groups =
      std::clamp(workers, 1, std::max(1, static_cast<int>(plan.start.size())));
  std::vector<std::pair<int64_t, int32_t>> by_size;  // (messages, partition)
  for (const auto& [p, s] : plan.start) {
    auto e = plan.end.find(p);
    by_size.emplace_back(
        e == plan.end.end() ? 0 : std::max<int64_t>(e->second - s, 0), p);
  }
  std::sort(by_size.begin(), by_size.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(groups));
  // (messages, partitions) per group: among equally loaded groups the one
  // with fewer partitions comes first, so no group is left empty.
  std::vector<std::pair<int64_t, size_t>> load(out.size(), {0, 0});
  for (const auto& [size, p] : by_size) {
    const size_t least = static_cast<size_t>(
        std::min_element(load.begin(), load.end()) - load.begin());
    out[least].push_back(p);
    load[least].first += size;
    ++load[least].second;
  }
  for (auto& group : out) std::sort(group.begin(), group.end());
  return out;
}

namespace {

// offsets_for_times: the first offset with timestamp >= time_ms per
// partition; -1 where no message is that late.
absl::StatusOr<std::map<int32_t, int64_t>> OffsetsForTime(
    rd_kafka_t* rk, const std::string& topic,
    const std::map<int32_t, int64_t>& partitions, int64_t time_ms,
    int timeout_ms) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& [p, unused] : partitions) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = time_ms;
  }
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, list, timeout_ms);
  std::map<int32_t, int64_t> out;
  absl::Status status = FromKafka(err, "offsets for times of " + topic);
  for (int i = 0; status.ok() && i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = list->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = FromKafka(
          tp.err, absl::StrCat("offset for time, partition ", tp.partition));
    }
    out[tp.partition] = tp.offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  RETURN_IF_ERROR(status);
  return out;
}

std::string MarkerPath(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/", kBackfillMarker);
}

}  // namespace

absl::StatusOr<BackfillPlan> PlanBackfill(rd_kafka_t* rk,
                                          const std::string& topic,
                                          int64_t from_time_ms,
                                          int64_t to_time_ms, int64_t now_ms,
                                          int timeout_ms) {
  BackfillPlan plan;
  plan.topic = topic;
  plan.from_time_ms = from_time_ms;
  plan.to_time_ms = to_time_ms;
  plan.planned_at_ms = now_ms;
  ASSIGN_OR_RETURN(std::vector<int32_t> partitions,
                   TopicPartitions(rk, topic, timeout_ms));
  std::map<int32_t, int64_t> low, high;
  for (int32_t p : partitions) {
    int64_t lo = 0, hi = 0;
    RETURN_IF_ERROR(FromKafka(rd_kafka_query_watermark_offsets(
                                  rk, topic.c_str(), p, &lo, &hi, timeout_ms),
                              absl::StrCat("watermarks of ", topic, "/", p)));
    low[p] = lo;
    high[p] = hi;
  }
  plan.start = low;
  plan.end = high;
  if (from_time_ms >= 0) {
    ASSIGN_OR_RETURN(auto starts,
                     OffsetsForTime(rk, topic, low, from_time_ms, timeout_ms));
    for (auto& [p, o] : starts) plan.start[p] = o >= 0 ? o : high[p];
  }
  if (to_time_ms >= 0) {
    ASSIGN_OR_RETURN(auto ends,
                     OffsetsForTime(rk, topic, low, to_time_ms, timeout_ms));
    for (auto& [p, o] : ends)
      plan.end[p] = o >= 0 ? std::min(o, high[p]) : high[p];
  }
  for (auto& [p, e] : plan.end) e = std::max(e, plan.start[p]);
  return plan;
}

absl::Status WriteBackfillMarker(const std::string& state_dir,
                                 const BackfillPlan& plan) {
  nlohmann::json j;
  j["topic"] = plan.topic;
  j["from_time_ms"] = plan.from_time_ms;
  j["to_time_ms"] = plan.to_time_ms;
  j["planned_at_ms"] = plan.planned_at_ms;
  for (const auto& [p, s] : plan.start) {
    j["partitions"].push_back(
        {{"partition", p}, {"start", s}, {"end", plan.end.at(p)}});
  }
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  return ReplaceFileAtomically(MarkerPath(state_dir), j.dump(2) + "\n");
}

absl::StatusOr<std::optional<BackfillPlan>> ReadBackfillMarker(
    const std::string& state_dir) {
  absl::StatusOr<std::string> text = ReadFile(MarkerPath(state_dir));
  if (absl::IsNotFound(text.status())) return std::optional<BackfillPlan>();
  RETURN_IF_ERROR(text.status());
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.contains("topic") || !j.contains("partitions")) {
    return absl::DataLossError(MarkerPath(state_dir) + " does not parse");
  }
  BackfillPlan plan;
  plan.topic = j["topic"].get<std::string>();
  plan.from_time_ms = j.value("from_time_ms", int64_t{-1});
  plan.to_time_ms = j.value("to_time_ms", int64_t{-1});
  plan.planned_at_ms = j.value("planned_at_ms", int64_t{0});
  for (const auto& p : j["partitions"]) {
    const int32_t id = p["partition"].get<int32_t>();
    plan.start[id] = p["start"].get<int64_t>();
    plan.end[id] = p["end"].get<int64_t>();
  }
  return std::optional<BackfillPlan>(std::move(plan));
}

absl::Status RemoveBackfillMarker(const std::string& state_dir) {
  if (std::remove(MarkerPath(state_dir).c_str()) != 0 && errno != ENOENT) {
    return absl::UnavailableError("cannot remove " + MarkerPath(state_dir));
  }
  return SyncDirectory(state_dir);
}

absl::StatusOr<int64_t> ParseTimeMs(const std::string& text) {
  int64_t ms;
  if (absl::SimpleAtoi(text, &ms) && ms >= 0) return ms;
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::ToUnixMillis(t);
  }
  return absl::InvalidArgumentError("'" + text +
                                    "' is neither Unix ms nor RFC 3339");
}

}  // namespace encore
