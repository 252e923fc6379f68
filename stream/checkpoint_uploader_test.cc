#include "stream/checkpoint_uploader.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "state/snapshot_publisher.h"
#include "state/state_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

namespace fs = std::filesystem;
using ::encore::testing::IsOk;
using ::encore::testing::TempDir;

// An object store that runs `before_put_file` (a fault or a pause) before
// each PutFile of the store it wraps.
class HookedObjectStore final : public ObjectStore {
 public:
  HookedObjectStore(std::unique_ptr<ObjectStore> inner,
                    std::function<absl::Status(const std::string&)> hook)
      : inner_(std::move(inner)), hook_(std::move(hook)) {}
  absl::StatusOr<bool> Exists(const std::string& key) override {
    return inner_->Exists(key);
  }
  absl::Status Put(const std::string& key, const std::string& c) override {
    return inner_->Put(key, c);
  }
  absl::Status PutIfAbsent(const std::string& key,
                           const std::string& c) override {
    return inner_->PutIfAbsent(key, c);
  }
  absl::Status PutFile(const std::string& key,
                       const std::string& path) override {
    if (absl::Status s = hook_(key); !s.ok()) return s;
    return inner_->PutFile(key, path);
  }
  absl::StatusOr<std::string> Get(const std::string& key) override {
    return inner_->Get(key);
  }
  absl::Status GetFile(const std::string& key,
                       const std::string& path) override {
    return inner_->GetFile(key, path);
  }
  absl::StatusOr<std::vector<Entry>> List(const std::string& prefix) override {
    return inner_->List(prefix);
  }
  absl::Status Delete(const std::string& key) override {
    return inner_->Delete(key);
  }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  const std::unique_ptr<ObjectStore> inner_;
  const std::function<absl::Status(const std::string&)> hook_;
};

class CheckpointUploaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenRocksStateStore(dir_.Sub("state"), "events", {});
    ASSERT_THAT(store.status(), IsOk());
    store_ = std::move(*store);
    // One snapshot kept: each publication removes the one before.
    auto publisher = SnapshotPublisher::Open({dir_.Sub("snap"), 1}, &clock_);
    ASSERT_THAT(publisher.status(), IsOk());
    publisher_ = std::move(*publisher);
  }

  // A checkpoint store over dir/store whose PutFile calls `hook` first;
  // partitions 0 and 1 claimed.
  std::unique_ptr<CheckpointStore> Checkpoints(
      std::function<absl::Status(const std::string&)> hook) {
    auto objects = OpenObjectStore("file://" + dir_.Sub("store"));
    EXPECT_THAT(objects.status(), IsOk());
    auto checkpoints = std::make_unique<CheckpointStore>(
        std::make_unique<HookedObjectStore>(std::move(*objects),
                                            std::move(hook)),
        "events");
    for (int32_t p : {0, 1}) {
      EXPECT_THAT(checkpoints->Claim(p, clock_.NowMs()).status(), IsOk());
    }
    return checkpoints;
  }

  // Commits `users` new users to partitions 0 and 1 up to `next_offset`
  // and publishes a snapshot of both.
  SnapshotManifest CommitAndPublish(int users, int64_t next_offset) {
    std::vector<PartitionMeta> metas;
    for (int32_t p : {0, 1}) {
      EXPECT_THAT(store_->OpenPartition(p).status(), IsOk());
      std::vector<UserRecord> states(static_cast<size_t>(users));
      std::vector<const UserRecord*> pointers;
      for (int i = 0; i < users; ++i) {
        states[static_cast<size_t>(i)].user_id =
            absl::StrCat("u", next_offset, "-", p, "-", i);
        pointers.push_back(&states[static_cast<size_t>(i)]);
      }
      PartitionMeta meta;
      meta.set_topic("events");
      meta.set_partition(p);
      meta.set_next_offset(next_offset);
      EXPECT_THAT(store_->Commit(p, pointers, meta), IsOk());
      metas.push_back(meta);
    }
    auto manifest = publisher_->Publish(*store_, "events", metas, {});
    EXPECT_THAT(manifest.status(), IsOk());
    return *manifest;
  }

  // Restores partition `p`'s latest checkpoint into a fresh store: its
  // next offset (-1 if none); the restore checks files and digest.
  int64_t RestoredOffset(CheckpointStore& checkpoints, int32_t p) {
    auto fresh = OpenRocksStateStore(
        dir_.Sub(absl::StrCat("restore-", ++restores_)), "events", {});
    EXPECT_THAT(fresh.status(), IsOk());
    auto meta = RestoreIfNewer(checkpoints, **fresh, p, nullptr, nullptr);
    EXPECT_THAT(meta.status(), IsOk());
    return meta.ok() ? meta->next_offset() : -2;
  }

  bool StagingLeft() {
    for (const auto& e : fs::directory_iterator(dir_.Sub("snap"))) {
      if (e.path().filename().string().rfind(".upload-", 0) == 0) return true;
    }
    return false;
  }

  TempDir dir_;
  FakeClock clock_{1'700'000'000'000};
  Metrics metrics_{std::make_shared<prometheus::Registry>()};
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<SnapshotPublisher> publisher_;
  int restores_ = 0;
};

TEST_F(CheckpointUploaderTest, SnapshotRemovedDuringItsUploadIsStillWhole) {
  std::mutex mu;
  std::condition_variable cv;
  bool paused = false, released = false;
  auto checkpoints = Checkpoints([&](const std::string&) {
    std::unique_lock<std::mutex> lock(mu);
    if (!released) {
      paused = true;
      cv.notify_all();
      cv.wait(lock, [&] { return released; });
    }
    return absl::OkStatus();
  });
  CheckpointUploader uploader(checkpoints.get(), dir_.Sub("snap"), &clock_,
                              &metrics_, {});
  auto release = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      released = true;
    }
    cv.notify_all();
  };
  // Released however the test ends, before the uploader joins its thread.
  struct Releaser {
    std::function<void()> release;
    ~Releaser() { release(); }
  } releaser{release};
  const SnapshotManifest first = CommitAndPublish(200, 100);
  uploader.Offer(first);
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return paused; });
  }
  // The next publication removes the first snapshot (keep = 1) while its
  // upload is paused half-way.
  CommitAndPublish(200, 200);
  ASSERT_FALSE(
      fs::exists(dir_.Sub("snap/" + SnapshotDirName(first.snapshot_id()))));
  release();
  ASSERT_THAT(uploader.Drain(), IsOk());
  EXPECT_EQ(RestoredOffset(*checkpoints, 0), 100);
  EXPECT_EQ(RestoredOffset(*checkpoints, 1), 100);
  EXPECT_FALSE(StagingLeft());
}

TEST_F(CheckpointUploaderTest, FailedUploadIsRetriedWithoutANewSnapshot) {
  std::atomic<int> failures_left{1};
  auto checkpoints = Checkpoints([&](const std::string& key) {
    if (key.find("/p-00000/") != std::string::npos && failures_left-- > 0) {
      return absl::UnavailableError("the store is down");
    }
    return absl::OkStatus();
  });
  CheckpointUploader uploader(checkpoints.get(), dir_.Sub("snap"), &clock_,
                              &metrics_, {.retry_ms = 1});
  uploader.Offer(CommitAndPublish(100, 100));
  // Nothing more is published: the retry alone brings partition 0 to the
  // store (a bounded wait, not a timing assertion).
  for (int i = 0; i < 1000 && metrics_.checkpoint_uploads.Value() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(metrics_.checkpoint_upload_failures.Value(), 1);
  // Partition 1 went at the first attempt, partition 0 at the second.
  EXPECT_EQ(metrics_.checkpoint_uploads.Value(), 3);
  ASSERT_THAT(uploader.Drain(), IsOk());
  EXPECT_EQ(RestoredOffset(*checkpoints, 0), 100);
  EXPECT_EQ(RestoredOffset(*checkpoints, 1), 100);
  EXPECT_FALSE(StagingLeft());
}

TEST_F(CheckpointUploaderTest, DrainTriesAFailedUploadOnceMore) {
  std::atomic<int> failures_left{1};
  auto checkpoints = Checkpoints([&](const std::string&) {
    if (failures_left-- > 0) return absl::UnavailableError("the store is down");
    return absl::OkStatus();
  });
  // The backoff outlasts the test: only Drain retries.
  CheckpointUploader uploader(checkpoints.get(), dir_.Sub("snap"), &clock_,
                              &metrics_, {.retry_ms = 3'600'000});
  uploader.Offer(CommitAndPublish(100, 100));
  for (int i = 0; i < 1000 && metrics_.checkpoint_upload_failures.Value() < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(metrics_.checkpoint_upload_failures.Value(), 1);
  ASSERT_THAT(uploader.Drain(), IsOk());
  EXPECT_EQ(RestoredOffset(*checkpoints, 0), 100);
  EXPECT_EQ(RestoredOffset(*checkpoints, 1), 100);
  EXPECT_FALSE(StagingLeft());
}

TEST_F(CheckpointUploaderTest, NewerSnapshotSupersedesAFailedOne) {
  std::atomic<bool> down{true};
  auto checkpoints = Checkpoints([&](const std::string&) {
    return down ? absl::UnavailableError("the store is down")
                : absl::OkStatus();
  });
  CheckpointUploader uploader(checkpoints.get(), dir_.Sub("snap"), &clock_,
                              &metrics_, {.retry_ms = 3'600'000});
  uploader.Offer(CommitAndPublish(100, 100));
  for (int i = 0; i < 1000 && metrics_.checkpoint_upload_failures.Value() < 2;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(metrics_.checkpoint_upload_failures.Value(), 2);
  down = false;
  uploader.Offer(CommitAndPublish(100, 200));
  ASSERT_THAT(uploader.Drain(), IsOk());
  EXPECT_EQ(RestoredOffset(*checkpoints, 0), 200);
  EXPECT_EQ(RestoredOffset(*checkpoints, 1), 200);
  EXPECT_FALSE(StagingLeft());
}

}  // namespace
}  // namespace encore
