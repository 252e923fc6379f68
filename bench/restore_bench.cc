// restore_bench: what a partition handover costs. Builds one partition of
// USERS synthetic users (shaped like heavy listeners: 16 arms, 50 recent
// plays, features and counters, ~1.5 KiB serialized each) in a RocksDB
// state store, publishes a snapshot, uploads its checkpoint to the
// checkpoint store at STORE_URI (file:// or s3://, as `encore run
// --checkpoint-store` would) and restores it into an empty state store as
// a new member would on assignment (claim, download, hash checks, digest
// recomputation, swap). Prints one JSON line with the state's size and the
// wall seconds of each step. With KEEP_SNAPSHOT_DIR, the published snapshot
// is moved there (users "user-%07d") for lookup_bench.
//
//   restore_bench STORE_URI USERS [WORK_DIR [KEEP_SNAPSHOT_DIR]]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "state/checkpoint_store.h"
#include "state/clock.h"
#include "state/snapshot_publisher.h"
#include "state/state_store.h"

namespace {

using encore::PartitionMeta;
using encore::UserState;

UserState HeavyUser(uint64_t i) {
  UserState u;
  u.set_user_id(absl::StrFormat("user-%07d", i));
  u.set_first_seen_ms(1'700'000'000'000);
  u.set_last_seen_ms(1'700'000'000'000 + static_cast<int64_t>(i % 86400000));
  u.set_events(300 + i % 200);
  u.set_plays(200 + i % 100);
  u.set_skips(100);
  for (int h : {3600, 86400, 604800, 2592000}) {
    u.add_half_lives_ms(int64_t{h} * 1000);
    u.mutable_counters()->add_plays(static_cast<double>(i % 97) / 7.0 + h);
    u.mutable_counters()->add_skips(static_cast<double>(i % 89) / 5.0);
    u.mutable_counters()->add_ms_played(static_cast<double>(i % 83) * 1e5);
  }
  for (int a = 0; a < 16; ++a) {
    encore::ArmEvidence* arm = u.add_arms();
    arm->set_arm_id(absl::StrFormat("arm-%02d", a));
    arm->set_successes(static_cast<double>((i + a) % 13) / 3.0);
    arm->set_failures(static_cast<double>((i * 7 + a) % 11) / 3.0);
    arm->set_ref_time_ms(1'700'000'000'000 + a);
    arm->set_updates(i % 50 + a);
  }
  for (int p = 0; p < 50; ++p) {
    encore::RecentPlay* play = u.add_recent_plays();
    play->set_track_id(absl::StrFormat("track-%06d", (i * 31 + p) % 1000000));
    play->set_time_ms(1'700'000'000'000 + p * 1000);
  }
  u.mutable_features()->set_starts(static_cast<double>(i % 300));
  u.mutable_features()->set_completion_sum(static_cast<double>(i % 100));
  for (int h = 0; h < 24; ++h) {
    u.mutable_features()->add_hour_of_day(static_cast<double>((i + h) % 7));
  }
  return u;
}

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "restore_bench: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: restore_bench STORE_URI USERS [WORK_DIR "
                 "[KEEP_SNAPSHOT_DIR]]\n");
    return 2;
  }
  const std::string uri = argv[1];
  const uint64_t users = std::strtoull(argv[2], nullptr, 10);
  const std::string work = argc > 3 ? argv[3] : "/tmp/encore-restore-bench";
  const std::string keep = argc > 4 ? argv[4] : "";
  std::filesystem::remove_all(work);
  const std::string topic =
      absl::StrCat("restore-bench-",
                   std::chrono::system_clock::now().time_since_epoch().count());
  constexpr int32_t kPartition = 0;

  // The state, committed in batches as the engine would.
  auto t0 = std::chrono::steady_clock::now();
  auto source = encore::OpenRocksStateStore(work + "/source", topic, {});
  if (!source.ok()) return Fail(source.status());
  if (auto m = (*source)->OpenPartition(kPartition); !m.ok()) {
    return Fail(m.status());
  }
  PartitionMeta meta;
  meta.set_topic(topic);
  meta.set_partition(kPartition);
  constexpr uint64_t kBatch = 10000;
  for (uint64_t from = 0; from < users; from += kBatch) {
    std::vector<encore::UserRecord> batch;
    std::vector<const encore::UserRecord*> pointers;
    for (uint64_t i = from; i < std::min(users, from + kBatch); ++i) {
      batch.push_back(encore::FromProto(HeavyUser(i)));
    }
    for (const encore::UserRecord& u : batch) pointers.push_back(&u);
    meta.set_next_offset(static_cast<int64_t>(from + batch.size()));
    if (absl::Status s = (*source)->Commit(kPartition, pointers, meta);
        !s.ok()) {
      return Fail(s);
    }
  }
  const double build_s = Since(t0);

  encore::FakeClock clock(1'700'000'000'000);
  auto publisher =
      encore::SnapshotPublisher::Open({work + "/snap", 1}, &clock, topic);
  if (!publisher.ok()) return Fail(publisher.status());
  t0 = std::chrono::steady_clock::now();
  auto manifest = (*publisher)->Publish(**source, topic, {meta}, {});
  if (!manifest.ok()) return Fail(manifest.status());
  const double publish_s = Since(t0);

  auto objects = encore::OpenObjectStore(uri);
  if (!objects.ok()) return Fail(objects.status());
  encore::CheckpointStore owner(std::move(*objects), topic);
  if (auto e = owner.Claim(kPartition, clock.NowMs()); !e.ok()) {
    return Fail(e.status());
  }
  t0 = std::chrono::steady_clock::now();
  auto sent = owner.Upload(
      absl::StrCat(work, "/snap/",
                   encore::SnapshotDirName(manifest->snapshot_id()), "/",
                   manifest->partitions(0).directory()),
      manifest->partitions(0), *manifest, clock.NowMs());
  if (!sent.ok()) return Fail(sent.status());
  const double upload_s = Since(t0);

  // A new member on an empty disk.
  auto objects2 = encore::OpenObjectStore(uri);
  if (!objects2.ok()) return Fail(objects2.status());
  encore::CheckpointStore member(std::move(*objects2), topic);
  auto target = encore::OpenRocksStateStore(work + "/target", topic, {});
  if (!target.ok()) return Fail(target.status());
  t0 = std::chrono::steady_clock::now();
  if (auto e = member.Claim(kPartition, clock.NowMs()); !e.ok()) {
    return Fail(e.status());
  }
  encore::RestoreReport report;
  auto restored =
      encore::RestoreIfNewer(member, **target, kPartition, nullptr, &report);
  if (!restored.ok()) return Fail(restored.status());
  const double restore_s = Since(t0);
  if (!report.restored.has_value() ||
      restored->next_offset() != static_cast<int64_t>(users) ||
      restored->users() != users) {
    std::fprintf(stderr,
                 "restore_bench: the restore did not bring the state\n");
    return 1;
  }
  std::printf(
      "{\"store\": \"%s\", \"users\": %llu, \"files\": %d, \"bytes\": %llu, "
      "\"build_s\": %.2f, \"publish_s\": %.2f, \"upload_s\": %.2f, "
      "\"restore_s\": %.2f, \"restore_mb_per_s\": %.1f}\n",
      uri.substr(0, uri.find("://")).c_str(),
      static_cast<unsigned long long>(users), sent->files,
      static_cast<unsigned long long>(sent->bytes), build_s, publish_s,
      upload_s, restore_s,
      static_cast<double>(sent->bytes) / 1e6 / std::max(restore_s, 1e-9));
  if (!keep.empty()) {
    std::filesystem::remove_all(keep);
    std::filesystem::rename(work + "/snap", keep);
  }
  std::filesystem::remove_all(work);
  return 0;
}
