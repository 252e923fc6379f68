// encore snapshot info: the latest snapshot's manifest.
// encore snapshot verify: check a snapshot end to end.
// encore snapshot pull: a local snapshot directory from a checkpoint store.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "state/checkpoint_store.h"
#include "state/dir_lock.h"
#include "state/population.h"
#include "state/snapshot_publisher.h"
#include "state/snapshot_puller.h"
#include "state/snapshot_reader.h"
#include "stream/cli/common.h"
#include "stream/cli/state_flags.h"

ABSL_FLAG(
    std::string, snapshot, "",
    "verify: the snapshot to check: its id (as `snapshot info` prints it) "
    "or snap-* name (default: LATEST's).");
ABSL_FLAG(bool, all, false, "verify: check every snapshot in the directory.");
ABSL_FLAG(std::string, to, "",
          "pull: the local snapshot directory to keep (LATEST + snap-*, "
          "and the mirrored state in .mirror/).");
ABSL_FLAG(bool, follow, false,
          "pull: keep pulling every --follow-interval-s until SIGTERM.");
ABSL_FLAG(double, follow_interval_s, 10, "pull --follow: pull this often.");

namespace encore::cli {

namespace {

// Verifies the snapshot LATEST names, or `only` (a snap-* name) if given,
// or with --all every snapshot in the directory.
int Verify(const std::string& cmd, const std::string& dir) {
  std::vector<std::string> paths;
  const std::string only = absl::GetFlag(FLAGS_snapshot);
  if (absl::GetFlag(FLAGS_all)) {
    paths = ListSnapshots(dir);
  } else if (!only.empty()) {
    // A snap-* name, or the numeric id `snapshot info` prints.
    uint64_t id = 0;
    const std::string name =
        absl::SimpleAtoi(only, &id) ? SnapshotDirName(id) : only;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir + "/" + name, ec)) {
      return Failure(cmd, absl::NotFoundError(
                              absl::StrCat("no snapshot ", only, " in ", dir,
                                           " (", ListSnapshots(dir).size(),
                                           " present; encore "
                                           "snapshot info shows the latest)")));
    }
    paths.push_back(dir + "/" + name);
  } else {
    absl::StatusOr<std::string> latest = LatestSnapshotPath(dir);
    if (!latest.ok()) return Failure(cmd, latest.status());
    paths.push_back(*latest);
  }
  if (paths.empty())
    return Failure(cmd, absl::NotFoundError("no snapshots in " + dir));
  int bad = 0;
  for (const std::string& path : paths) {
    absl::Status s = VerifySnapshot(path);
    if (s.ok()) {
      absl::StatusOr<SnapshotManifest> m = ReadManifest(path);
      std::cout << absl::StrFormat("%s: OK (%d users, digest %s)\n", path,
                                   m.ok() ? m->user_count() : 0,
                                   m.ok() ? m->content_digest() : "?");
    } else {
      ++bad;
      std::cout << path << ": BAD: " << s.message() << "\n";
    }
  }
  return bad == 0 ? 0 : 1;
}

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// Pulls the checkpoint store's latest checkpoints into --to, once or (with
// --follow) until SIGTERM.
int Pull(const std::string& cmd) {
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  const std::string uri = absl::GetFlag(FLAGS_checkpoint_store);
  const std::string topic = absl::GetFlag(FLAGS_topic);
  const std::string to = absl::GetFlag(FLAGS_to);
  if (uri.empty()) return UsageError(cmd, "--checkpoint-store is required");
  if (topic.empty()) return UsageError(cmd, "--topic is required");
  if (to.empty()) return UsageError(cmd, "--to is required");
  const double interval = absl::GetFlag(FLAGS_follow_interval_s);
  for (absl::Status s :
       {CheckAbove("follow-interval-s", interval, 0),
        CheckAtLeast("snapshot-keep", absl::GetFlag(FLAGS_snapshot_keep), 1)}) {
    if (!s.ok()) return UsageError(cmd, std::string(s.message()));
  }
  absl::StatusOr<std::unique_ptr<ObjectStore>> objects = OpenObjectStore(uri);
  if (absl::IsInvalidArgument(objects.status()) ||
      absl::IsUnimplemented(objects.status())) {
    return UsageError(cmd, std::string(objects.status().message()));
  }
  if (!objects.ok()) return Failure(cmd, objects.status());
  CheckpointStore checkpoints(std::move(*objects), topic);
  absl::StatusOr<std::unique_ptr<DirLock>> lock = DirLock::Acquire(to, "--to");
  if (!lock.ok()) return Failure(cmd, lock.status());
  absl::StatusOr<std::unique_ptr<SnapshotPuller>> puller = SnapshotPuller::Open(
      &checkpoints, to, absl::GetFlag(FLAGS_snapshot_keep), SystemClock());
  if (!puller.ok()) return Failure(cmd, puller.status());
  const bool follow = absl::GetFlag(FLAGS_follow);
  while (true) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<SnapshotManifest> m = (*puller)->Pull();
    for (const std::string& why : (*puller)->last_refused()) {
      spdlog::error("damaged checkpoint passed over: {}", why);
    }
    if (m.ok()) {
      spdlog::info(
          "{} holds snapshot {} ({} partitions, {} users, digest {}): {} "
          "partition(s) pulled in {:.2f} s",
          to, m->snapshot_id(), m->partitions_size(), m->user_count(),
          m->content_digest().substr(0, 16), (*puller)->last_restored(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                        start)
              .count());
    } else if (!follow) {
      return Failure(cmd, m.status());
    } else {
      // A store or a member that is not there yet: the next round retries.
      spdlog::warn("pull from {} failed: {}", checkpoints.Describe(),
                   m.status().ToString());
    }
    if (!follow) return 0;
    const auto next =
        start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(interval));
    while (!g_stop.load() && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (g_stop.load()) return 0;
  }
}

}  // namespace

int SnapshotCommand(const std::vector<char*>& args) {
  const std::string cmd = "snapshot";
  const std::string sub = args.size() == 2 ? args[1] : "";
  if (sub != "info" && sub != "verify" && sub != "pull") {
    return UsageError(cmd,
                      "usage: encore snapshot info|verify --snapshot-dir P "
                      "[--json] [--snapshot snap-N | --all], or encore "
                      "snapshot pull --checkpoint-store URI --topic T --to P "
                      "[--follow]");
  }
  if (sub == "pull") return Pull(cmd);
  const std::string dir = absl::GetFlag(FLAGS_snapshot_dir);
  if (dir.empty()) return UsageError(cmd, "--snapshot-dir is required");
  if (sub == "verify") return Verify(cmd, dir);
  absl::StatusOr<SnapshotManifest> m = ReadLatestManifest(dir);
  if (!m.ok()) return Failure(cmd, m.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(*m, &json, options);
    std::cout << json << "\n";
    return 0;
  }
  auto t = [](int64_t ms) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms),
                            absl::UTCTimeZone());
  };
  std::cout << absl::StrFormat(
      "snapshot %d of topic %s (schema %d, encore %s)\n  created   %s\n"
      "  watermark %s\n  users     %d\n  digest    %s\n",
      m->snapshot_id(), m->topic(), m->schema_version(), m->encore_version(),
      t(m->created_at_ms()), t(m->watermark_ms()), m->user_count(),
      m->content_digest());
  for (const PartitionManifest& p : m->partitions()) {
    std::cout << absl::StrFormat(
        "  partition %3d  next offset %10d  users %8d  watermark %s\n",
        p.partition(), p.next_offset(), p.users(), t(p.watermark_ms()));
  }
  const OffPolicySummary& op = m->off_policy();
  std::cout << absl::StrFormat(
      "  off-policy: %d logged rewards with propensities, logged policy "
      "value %.4f; %d impressions in flight (window open, not counted)\n",
      op.logged_rewards(), op.logged_value(), op.in_flight_impressions());
  for (const PolicyEstimate& e : op.estimates()) {
    std::cout << absl::StrFormat(
        "    %-12s%s  IPS %.4f [%.4f, %.4f]   SNIPS %.4f [%.4f, %.4f]   "
        "(95 %% intervals; %d matched of %d)\n",
        e.policy(),
        e.greedy_arm().empty() ? "" : absl::StrCat(" (", e.greedy_arm(), ")"),
        e.ips(), e.ips_low(), e.ips_high(), e.snips(), e.snips_low(),
        e.snips_high(), e.matched(), e.scored());
  }
  if (op.greedy_progress().intervals() > 0) {
    std::cout << absl::StrFormat(
        "    greedy-mean is scored progressively: %d snapshot intervals, each "
        "on the rows after the snapshot that published its arm\n",
        op.greedy_progress().intervals());
  }
  std::cout << absl::StrFormat(
      "    greedy arm published for the next interval: %s\n",
      op.published_greedy_arm().empty()
          ? absl::StrCat("none (no arm has ", kGreedyMinRewards, " rewards)")
          : op.published_greedy_arm());
  return 0;
}

}  // namespace encore::cli
