// Backfill planning and the in-progress marker.
//
// A backfill replays a time range of a topic into a fresh state directory
// with the same processing as `encore run`, then stops. Its plan (start and
// end offset per partition) is fixed when it starts and written to
// <state-dir>/BACKFILL_IN_PROGRESS before any state; the marker is removed
// only after the final commit is durable and the snapshot published. A state
// directory with the marker is incomplete: `encore run` refuses it and
// `encore backfill --resume` continues it from the stored offsets.
#ifndef ENCORE_STREAM_BACKFILL_H_
#define ENCORE_STREAM_BACKFILL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "stream/kafka_client.h"

namespace encore {

struct BackfillPlan {
  std::string topic;
  std::map<int32_t, int64_t> start;  // first offset to apply
  std::map<int32_t, int64_t> end;    // first offset NOT to apply
  int64_t from_time_ms = -1;         // -1: from the beginning
  int64_t to_time_ms = -1;           // -1: the end offsets at plan time
  int64_t planned_at_ms = 0;

  // Messages in the plan: sum of end - start.
  int64_t TotalMessages() const;
};

// Computes a plan: start = the first offset whose Kafka timestamp is >=
// from_time_ms (the log start if from_time_ms < 0); end = the first offset
// whose timestamp is >= to_time_ms, or the high watermark now when
// to_time_ms < 0 or no message is that late. NotFound if the topic does not
// exist.
absl::StatusOr<BackfillPlan> PlanBackfill(rd_kafka_t* rk,
                                          const std::string& topic,
                                          int64_t from_time_ms,
                                          int64_t to_time_ms, int64_t now_ms,
                                          int timeout_ms);

// Splits the plan's partitions into `workers` non-empty groups (fewer if
// there are fewer partitions; at least one), largest remaining range first
// onto the least loaded group, so that workers processing the groups in
// parallel finish at about the same time. Each group is sorted; the result
// depends only on the plan.
std::vector<std::vector<int32_t>> SplitPlan(const BackfillPlan& plan,
                                            int workers);

inline constexpr char kBackfillMarker[] = "BACKFILL_IN_PROGRESS";

// Writes the marker (JSON plan) durably.
absl::Status WriteBackfillMarker(const std::string& state_dir,
                                 const BackfillPlan& plan);
// The plan in the marker, or nullopt if there is none. DataLoss if it does
// not parse.
absl::StatusOr<std::optional<BackfillPlan>> ReadBackfillMarker(
    const std::string& state_dir);
// Removes the marker durably (OK if absent).
absl::Status RemoveBackfillMarker(const std::string& state_dir);

// Parses "1790000000000" (Unix ms) or an RFC 3339 time
// ("2026-11-01T00:00:00Z"). InvalidArgument otherwise.
absl::StatusOr<int64_t> ParseTimeMs(const std::string& text);

}  // namespace encore

#endif  // ENCORE_STREAM_BACKFILL_H_
