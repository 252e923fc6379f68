#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <shared_mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/statistics.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"
#include "state/digest.h"
#include "state/file_util.h"
#include "state/key_codec.h"
#include "state/record_prefetch.h"
#include "state/rocks_status.h"
#include "state/state_store.h"
#include "state/status_macros.h"

namespace encore {
namespace {

// RocksDB's info log, `<db>/LOG`, written so that a full disk only loses
// log lines. RocksDB's own file logger aborts the process (an assertion in
// Debian's 7.8.3 build) on the first line after a failed write, so a full
// disk crashed encore instead of stopping it. Appended to across opens (a
// partition is reopened after a failed write); moved to `LOG.old` at an
// open once larger than kRotateBytes.
class InfoLogFile final : public rocksdb::Logger {
 public:
  static constexpr uintmax_t kRotateBytes = 64 << 20;

  explicit InfoLogFile(const std::string& db_dir) {
    std::error_code ec;
    std::filesystem::create_directories(db_dir, ec);
    const std::string path = db_dir + "/LOG";
    const uintmax_t size = std::filesystem::file_size(path, ec);
    if (!ec && size > kRotateBytes) {
      std::filesystem::rename(path, path + ".old", ec);
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  ~InfoLogFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (fd_ < 0) return;
    timeval tv;
    ::gettimeofday(&tv, nullptr);
    tm t;
    ::localtime_r(&tv.tv_sec, &t);
    char stamp[64];
    std::snprintf(stamp, sizeof(stamp),
                  "%04d/%02d/%02d-%02d:%02d:%02d.%06ld %ld ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<long>(tv.tv_usec), static_cast<long>(::gettid()));
    va_list copy;
    va_copy(copy, ap);
    const int len = std::vsnprintf(nullptr, 0, format, copy);
    va_end(copy);
    if (len < 0) return;
    std::string line(stamp);
    const size_t at = line.size();
    line.resize(at + len + 1);
    std::vsnprintf(line.data() + at, len + 1, format, ap);
    line.back() = '\n';  // over vsnprintf's NUL
    if (len > 0 && line[line.size() - 2] == '\n') line.pop_back();
    // One write per line (O_APPEND keeps lines whole). A failed write, as on
    // a full disk, loses that line and nothing else.
    const ssize_t written = ::write(fd_, line.data(), line.size());
    static_cast<void>(written);
  }

 private:
  int fd_ = -1;
};

// Leaves recovery from errors that stop writes (a full disk) to Commit(),
// which reopens the database before writing again. RocksDB's own recovery
// would wait until a whole memtable's worth of space (32 MiB here) is free,
// then resume in place, which 7.8 cannot do safely (see
// RecoverFromFailedWrite()). Softer
// errors (a compaction out of space) keep RocksDB's own recovery.
class RecoverOnCommit final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/,
                            rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    if (bg_error.severity() >= rocksdb::Status::Severity::kHardError) {
      *auto_recovery = false;
    }
  }
};

// Appends every arm aggregate (keys A...) `it` reaches; `where` names the
// database in errors.
absl::Status ReadAggregates(rocksdb::Iterator& it, absl::string_view where,
                            std::vector<ArmAggregate>* aggregates) {
  for (it.Seek(std::string(1, kAggregateKeyPrefix));
       it.Valid() && !it.key().empty() && it.key()[0] == kAggregateKeyPrefix;
       it.Next()) {
    ArmAggregate& a = aggregates->emplace_back();
    if (!a.ParseFromArray(it.value().data(),
                          static_cast<int>(it.value().size()))) {
      return absl::DataLossError(
          absl::StrCat(where, ": undecodable arm aggregate"));
    }
  }
  return FromRocks(it.status(), absl::StrCat(where, ": read arm aggregates"));
}

// RocksDB's informational log, dropped: a read-only open would otherwise
// write a LOG file into a snapshot.
class DiscardingLogger final : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
};

class RocksStateStore final : public StateStore {
 public:
  RocksStateStore(std::string root, std::string topic,
                  const RocksStoreOptions& options)
      : root_(std::move(root)), topic_(std::move(topic)), options_(options) {
    cache_ = rocksdb::NewLRUCache(options.block_cache_bytes);
    // Memtables are charged to the block cache, so the two budgets together
    // bound RocksDB's memory.
    write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(
        options.write_buffer_bytes, cache_);
    statistics_ = rocksdb::CreateDBStatistics();
    statistics_->set_stats_level(rocksdb::StatsLevel::kExceptTimers);
    recover_on_commit_ = std::make_shared<RecoverOnCommit>();
  }

  ~RocksStateStore() override {
    std::unique_lock lock(dbs_mu_);
    for (auto& [p, db] : dbs_) db->Close().PermitUncheckedError();
  }

  absl::StatusOr<PartitionMeta> OpenPartition(int32_t partition) override {
    if (dbs_.count(partition)) return ReadMeta(partition);
    RETURN_IF_ERROR(OpenDb(partition));
    absl::Status s = LoadTally(partition);
    absl::StatusOr<PartitionMeta> meta =
        s.ok() ? ReadMeta(partition) : absl::StatusOr<PartitionMeta>(s);
    if (!meta.ok()) {
      std::unique_lock lock(dbs_mu_);
      dbs_.erase(partition);
      tallies_.erase(partition);
      return meta.status();
    }
    return meta;
  }

  absl::Status ClosePartition(int32_t partition) override {
    auto it = dbs_.find(partition);
    if (it == dbs_.end()) return absl::OkStatus();
    std::unique_lock lock(dbs_mu_);
    absl::Status s = FromRocks(it->second->Close(), "close partition");
    dbs_.erase(it);
    tallies_.erase(partition);
    RepairDone(partition);
    return s;
  }

  absl::StatusOr<std::optional<StoredUser>> ReadUser(
      int32_t partition, absl::string_view user_id) override {
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    std::string value;
    const std::string key = UserKey(user_id);
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), key, &value);
    if (s.IsNotFound()) return std::optional<StoredUser>();
    RETURN_IF_ERROR(FromRocks(s, "read user"));
    std::optional<StoredUser> user(std::in_place);
    if (!DecodeFrom(value, &user->state)) {
      return absl::DataLossError(absl::StrCat(
          "partition ", partition, ": undecodable state for user ", user_id));
    }
    user->hash = HashEntry(key, value);
    return user;
  }

  absl::StatusOr<std::vector<std::optional<StoredUser>>> ReadUsers(
      int32_t partition,
      const std::vector<absl::string_view>& user_ids) override {
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    std::vector<std::string> keys;
    keys.reserve(user_ids.size());
    for (absl::string_view id : user_ids) keys.push_back(UserKey(id));
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db->MultiGet(rocksdb::ReadOptions(), db->DefaultColumnFamily(),
                 slices.size(), slices.data(), values.data(), statuses.data());
    std::vector<std::optional<StoredUser>> users(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].IsNotFound()) continue;
      RETURN_IF_ERROR(FromRocks(statuses[i], "read users"));
      StoredUser& user = users[i].emplace();
      if (!DecodeFrom(absl::string_view(values[i].data(), values[i].size()),
                      &user.state)) {
        return absl::DataLossError(absl::StrCat("partition ", partition,
                                                ": undecodable state for user ",
                                                user_ids[i]));
      }
      user.hash = HashEntry(
          keys[i], absl::string_view(values[i].data(), values[i].size()));
    }
    return users;
  }

  absl::StatusOr<PartitionContents> ReadPartitionContents(
      int32_t partition) override {
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    PartitionContents contents;
    ASSIGN_OR_RETURN(contents.meta, ReadMeta(partition));
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions()));
    RETURN_IF_ERROR(ReadAggregates(*it, absl::StrCat("partition ", partition),
                                   &contents.aggregates));
    for (it->Seek(std::string(1, kExpiryKeyPrefix));
         it->Valid() && !it->key().empty() && it->key()[0] == kExpiryKeyPrefix;
         it->Next()) {
      std::optional<ExpiryEntry> e =
          ParseExpiryKey(absl::string_view(it->key().data(), it->key().size()));
      if (!e) {
        return absl::DataLossError(
            absl::StrCat("partition ", partition, ": bad expiry key"));
      }
      contents.expiries.push_back(std::move(*e));
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "read expiry index"));
    return contents;
  }

  using StateStore::Commit;
  absl::Status Commit(int32_t partition, const CommitBatch& commit) override {
    const std::string context = absl::StrCat("commit partition ", partition);
    if (NeedsRepair(partition)) {
      RETURN_IF_ERROR(RecoverFromFailedWrite(partition, context));
    }
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    Tally& tally = tallies_.at(partition);
    // The digest after this write: minus what it replaces, plus what it
    // writes (state/digest.h). Applied to `tally` only once it is stored.
    ContentDigest digest = tally.digest;
    uint64_t users = tally.users;
    std::vector<std::pair<std::string, std::optional<EntryHash>>> arm_hashes;
    // Reused across commits: building a fresh batch of several MiB faulted
    // in new pages and copied itself at every doubling, each commit.
    rocksdb::WriteBatch& batch = commit_batch_;
    batch.Clear();
    std::string& value = commit_value_;
    std::string key;
    const size_t n = commit.users.size();
    if (commit.user_hashes != nullptr) commit.user_hashes->assign(n, {});
    const bool hashes_given = commit.stored_user_hashes.size() == n;
    // Users go into the batch in key order, so that the memtable's skip
    // list finds each one's place from the previous one's (the insert hint
    // DbOptions asks for) instead of searching from the top.
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return commit.users[a]->user_id < commit.users[b]->user_id;
    });
    constexpr size_t kRecordAhead = 8, kArraysAhead = 4;
    for (size_t j = 0; j < n; ++j) {
      if (j + kRecordAhead < n) {
        PrefetchRecord(*commit.users[order[j + kRecordAhead]]);
      }
      if (j + kArraysAhead < n) {
        PrefetchRecordArrays(*commit.users[order[j + kArraysAhead]]);
      }
      const uint32_t i = order[j];
      const UserRecord* user = commit.users[i];
      key = UserKey(user->user_id);
      std::optional<EntryHash> before;
      if (hashes_given) {
        before = commit.stored_user_hashes[i];
      } else {
        rocksdb::Status read = db->Get(rocksdb::ReadOptions(), key, &value);
        if (!read.IsNotFound()) {
          RETURN_IF_ERROR(FromRocks(read, context));
          before = HashEntry(key, value);
        }
      }
      value.clear();
      EncodeTo(*user, &value);
      const EntryHash after = HashEntry(key, value);
      if (before) {
        digest.Subtract(*before);
      } else {
        ++users;
      }
      digest.Add(after);
      batch.Put(key, value);
      if (commit.user_hashes != nullptr) (*commit.user_hashes)[i] = after;
    }
    for (const ArmAggregate* a : commit.aggregates) {
      a->SerializeToString(&value);
      key = AggregateKey(a->arm_id());
      const EntryHash after = HashEntry(key, value);
      if (auto it = tally.arms.find(a->arm_id()); it != tally.arms.end()) {
        digest.Subtract(it->second);
      }
      digest.Add(after);
      arm_hashes.emplace_back(a->arm_id(), after);
      batch.Put(key, value);
    }
    for (const std::string& arm : commit.deleted_aggregates) {
      if (auto it = tally.arms.find(arm); it != tally.arms.end()) {
        digest.Subtract(it->second);
        arm_hashes.emplace_back(arm, std::nullopt);
      }
      batch.Delete(AggregateKey(arm));
    }
    // Deletes before puts: an entry both removed and re-added stays.
    for (const ExpiryEntry& e : commit.expiry_deletes) {
      key = ExpiryKey(e.deadline_ms, e.user_id);
      digest.Subtract(HashEntry(key, ""));
      batch.Delete(key);
    }
    for (const ExpiryEntry& e : commit.expiry_puts) {
      key = ExpiryKey(e.deadline_ms, e.user_id);
      digest.Add(HashEntry(key, ""));
      batch.Put(key, "");
    }
    PartitionMeta stored = commit.meta;
    stored.set_topic(topic_);
    stored.set_partition(partition);
    stored.set_schema_version(kStateSchemaVersion);
    stored.set_content_digest(digest.Bytes());
    stored.set_users(users);
    stored.SerializeToString(&value);
    batch.Put(kMetaKey, value);
    rocksdb::WriteOptions wo;
    wo.disableWAL = options_.disable_wal;
    wo.sync = options_.sync_commits && !options_.disable_wal;
    absl::Status s = FromRocks(db->Write(wo, &batch), context);
    if (!s.ok()) {
      MarkForRepair(partition);
      ReleaseCommitBuffersIfLarge();
      return s;
    }
    if (options_.disable_wal && !tally.offset_durable &&
        commit.meta.next_offset() >= 0) {
      // Without a WAL a commit lasts from the next flush on. A partition's
      // first offset lasts at once: a crash before that flush would leave
      // it with none, and a start from --reset=latest would skip what it
      // had applied. On failure the caller commits the same batch again,
      // against the tally as it was.
      RETURN_IF_ERROR(FromRocks(db->Flush(rocksdb::FlushOptions()), context));
      tally.offset_durable = true;
    }
    tally.digest = digest;
    tally.users = users;
    for (auto& [arm, hash] : arm_hashes) {
      if (hash) {
        tally.arms[arm] = *hash;
      } else {
        tally.arms.erase(arm);
      }
    }
    if (commit.stored_meta != nullptr) *commit.stored_meta = std::move(stored);
    if (commit.written_bytes != nullptr) {
      *commit.written_bytes = batch.GetDataSize();
    }
    ReleaseCommitBuffersIfLarge();
    return absl::OkStatus();
  }

  absl::Status Flush() override {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    for (const auto& [p, db] : dbs_) {
      RETURN_IF_ERROR(
          FromRocks(db->Flush(fo), absl::StrCat("flush partition ", p)));
      RETURN_IF_ERROR(FromRocks(db->FlushWAL(/*sync=*/true),
                                absl::StrCat("sync partition ", p)));
    }
    return absl::OkStatus();
  }

  void StartFlush() override {
    rocksdb::FlushOptions fo;
    fo.wait = false;
    // Never blocks the caller for a write stall: the flush is only queued.
    fo.allow_write_stall = true;
    for (const auto& [p, db] : dbs_) db->Flush(fo).PermitUncheckedError();
  }

  StoreStats Stats() override {
    StoreStats stats;
    stats.block_cache_usage_bytes = cache_->GetUsage();
    stats.stall_micros = statistics_->getTickerCount(rocksdb::STALL_MICROS);
    for (const auto& [p, db] : dbs_) {
      PartitionStoreStats& s = stats.partitions[p];
      db->GetIntProperty("rocksdb.estimate-num-keys", &s.estimated_keys);
      db->GetIntProperty("rocksdb.live-sst-files-size", &s.live_sst_bytes);
      db->GetIntProperty("rocksdb.cur-size-all-mem-tables", &s.memtable_bytes);
      db->GetIntProperty("rocksdb.estimate-pending-compaction-bytes",
                         &s.pending_compaction_bytes);
      db->GetIntProperty("rocksdb.estimate-table-readers-mem",
                         &s.table_readers_bytes);
    }
    return stats;
  }

  absl::Status Checkpoint(int32_t partition, const std::string& dir) override {
    // Shared: the owning thread may commit meanwhile, not close or reopen.
    std::shared_lock lock(dbs_mu_);
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    rocksdb::Checkpoint* raw = nullptr;
    RETURN_IF_ERROR(
        FromRocks(rocksdb::Checkpoint::Create(db, &raw), "checkpoint"));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    // log_size_for_flush = 0 flushes the memtable first, so the checkpoint
    // holds only SST files and needs no WAL replay to open read-only.
    absl::Status s =
        FromRocks(checkpoint->CreateCheckpoint(dir, 0),
                  absl::StrCat("checkpoint partition ", partition));
    uint64_t background_errors = 0;
    if (!s.ok() &&
        db->GetIntProperty("rocksdb.background-errors", &background_errors) &&
        background_errors > 0) {
      // A flush or compaction failed (a full disk): RocksDB stops flushing
      // and returns that error to every flush after, space or not, while
      // commits may still go through. A partition with nothing new to
      // commit would never be checkpointed again. Its owner reopens it at
      // its next commit, as after a failed write.
      MarkForRepair(partition);
    }
    return s;
  }

  bool NeedsRepair(int32_t partition) override {
    std::lock_guard<std::mutex> lock(repair_mu_);
    return needs_repair_.count(partition) > 0;
  }

  absl::Status ReplacePartition(int32_t partition,
                                const PartitionFiller& fill) override {
    if (dbs_.count(partition) > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "partition ", partition, " is open: close it before replacing it"));
    }
    const std::string dir =
        absl::StrCat(root_, "/", PartitionDirName(partition));
    // A hidden sibling: a restore that died half-way is removed here the
    // next time, and never taken for a partition.
    const std::string staging =
        absl::StrCat(root_, "/.restore-", PartitionDirName(partition));
    std::error_code ec;
    std::filesystem::create_directories(root_, ec);
    std::filesystem::remove_all(staging, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("remove ", staging, ": ", ec.message()));
    }
    absl::Status filled = fill(staging, dir);
    if (!filled.ok()) {
      std::filesystem::remove_all(staging, ec);
      return filled;
    }
    // One atomic step: the old state (if any) and the new one swap names,
    // so a crash leaves one of them complete under `dir`.
    const bool exists = std::filesystem::exists(dir, ec);
    const int rc = exists ? ::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD,
                                        dir.c_str(), RENAME_EXCHANGE)
                          : ::rename(staging.c_str(), dir.c_str());
    if (rc != 0) {
      const std::string why = std::strerror(errno);
      std::filesystem::remove_all(staging, ec);
      return absl::UnavailableError(
          absl::StrCat("replace ", dir, " with a restored state: ", why));
    }
    RETURN_IF_ERROR(SyncDirectory(root_));
    std::filesystem::remove_all(staging, ec);  // the old state, if any
    return absl::OkStatus();
  }

 private:
  // Opens partition `partition`'s database (not open yet) into dbs_.
  absl::Status OpenDb(int32_t partition) {
    const std::string dir =
        absl::StrCat(root_, "/", PartitionDirName(partition));
    std::error_code ec;
    std::filesystem::create_directories(root_, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("create ", root_, ": ", ec.message()));
    }
    rocksdb::DB* raw = nullptr;
    RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(DbOptions(dir), dir, &raw),
                              absl::StrCat("open ", dir)));
    {
      std::unique_lock lock(dbs_mu_);
      dbs_[partition].reset(raw);
    }
    RepairDone(partition);
    return absl::OkStatus();
  }

  void MarkForRepair(int32_t partition) {
    std::lock_guard<std::mutex> lock(repair_mu_);
    needs_repair_.insert(partition);
  }

  void RepairDone(int32_t partition) {
    std::lock_guard<std::mutex> lock(repair_mu_);
    needs_repair_.erase(partition);
  }

  // Makes a partition whose last write failed writable again, or says why
  // not (the disk is still full). Nothing of the failed write was
  // acknowledged: the caller still holds it and writes it again.
  //
  // With a WAL the database is closed and opened again. RocksDB 7.8 cannot
  // be trusted to write in place after a failed WAL write: DB::Resume()
  // keeps the failed WAL file when the memtable was empty (as it is right
  // after a snapshot's flush), and the next write then aborts the process
  // (an assertion in Debian's build; rocksdb issue 11643, changed upstream
  // in 2024). Close() gives up the failed WAL's unwritten tail; Open() replays
  // the WAL, which holds every acknowledged commit and of the failed one
  // either all (a commit whose sync failed: its users and offset together)
  // or nothing, and starts a new one. Without a WAL (bulk mode) the
  // memtable holds commits not yet flushed, which closing would lose, and
  // no WAL write can have failed: Resume() flushes it instead.
  absl::Status RecoverFromFailedWrite(int32_t partition,
                                      absl::string_view context) {
    const std::string what =
        absl::StrCat(context, ": recovering from a failed write");
    auto it = dbs_.find(partition);
    if (options_.disable_wal && it != dbs_.end()) {
      RETURN_IF_ERROR(FromRocks(it->second->Resume(), what));
      RepairDone(partition);
      return absl::OkStatus();
    }
    if (it != dbs_.end()) {
      std::unique_lock lock(dbs_mu_);
      // Reports the failed WAL again ("Seen error"): nothing new.
      it->second->Close().PermitUncheckedError();
      dbs_.erase(it);
    }
    absl::Status s = OpenDb(partition);
    if (!s.ok())
      return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
    return absl::OkStatus();
  }

  rocksdb::Options DbOptions(const std::string& dir) const {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.info_log = std::make_shared<InfoLogFile>(dir);
    o.listeners.push_back(recover_on_commit_);
    o.write_buffer_manager = write_buffers_;
    // A memtable allocates in blocks of 1/8 of its size, so with small
    // write buffers it has to be small too.
    o.write_buffer_size = std::min(
        options_.memtable_bytes,
        std::max<size_t>(options_.write_buffer_bytes / 4, size_t{1} << 20));
    o.compression =
        options_.compress ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
    o.max_background_jobs = 2;
    // Users are spread evenly over the key space, so every L0 file overlaps
    // all of L1, and each L0 -> L1 compaction rewrites the whole partition.
    // Merging 12 flushes at a time instead of 4 rewrites it a third as
    // often: with ~1M users under a 256 MiB budget (memtables of a few MiB)
    // compaction was a quarter of the CPU. Reads of uncached users check
    // more L0 files, through their Bloom filters (bench/results/miss-l0.md).
    o.level0_file_num_compaction_trigger = 12;
    o.level0_slowdown_writes_trigger = 30;
    o.level0_stop_writes_trigger = 40;
    o.max_open_files = 256;
    o.statistics = statistics_;
    // Most reads of a user that is not cached find nothing (a user's first
    // event, every user of a backfill): Bloom filters answer those without
    // searching the memtable's skip list or reading SST blocks.
    o.memtable_prefix_bloom_size_ratio = 0.02;
    o.memtable_whole_key_filtering = true;
    // A commit writes its users in key order, and the memtable already holds
    // older versions of most of them. The skip list's own sequential-insert
    // shortcut only helps when nothing lies between two inserted keys, so
    // every insert searched from the top (~10 % of the worker's CPU on
    // `small`). With a hint kept per key kind (the first byte: users,
    // aggregates, expiry entries), each insert starts from the previous
    // one's place and climbs only as far as the keys in between need.
    o.memtable_insert_with_hint_prefix_extractor.reset(
        rocksdb::NewFixedPrefixTransform(1));
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache_;
    // Index and filter blocks stay with their table readers, outside the
    // block cache (~1.4 % of the SST bytes,
    // encore_rocksdb_table_readers_bytes). In the cache, with ~1M users under a
    // 256 MiB budget, the stream of data blocks read on cache misses evicted
    // them: each worker read a file's whole index block (~0.5 MB for a 64 MB
    // file) again ~600 times a second, and that was ~10 % of encore's CPU
    // (bench/results/index-blocks.md).
    table.cache_index_and_filter_blocks = false;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return o;
  }

  // What the store keeps of an open partition to update its content
  // digest without reading: the digest and user count as of the last
  // commit, and the hash of every stored arm aggregate (at most
  // max_arms_per_partition of them).
  struct Tally {
    ContentDigest digest;
    uint64_t users = 0;
    absl::flat_hash_map<std::string, EntryHash> arms;
    // The partition has a resume offset that a crash cannot take away
    // (stored when it was opened, or flushed since).
    bool offset_durable = false;
  };

  // Fills tallies_[partition] from an opened database: the stored digest
  // and user count, or, for state written before they were stored, a scan
  // of every entry (once: the next commit stores them).
  absl::Status LoadTally(int32_t partition) {
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    Tally tally;
    std::string value;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kMetaKey, &value);
    PartitionMeta meta;
    if (!s.IsNotFound()) {
      RETURN_IF_ERROR(FromRocks(s, "read partition metadata"));
      // Undecodable metadata is reported by ReadMeta().
      meta.ParseFromString(value);
    }
    std::optional<ContentDigest> stored =
        ContentDigest::FromBytes(meta.content_digest());
    const bool scan = !stored.has_value() && !s.IsNotFound();
    if (stored) {
      tally.digest = *stored;
      tally.users = meta.users();
    }
    tally.offset_durable = !s.IsNotFound() && meta.next_offset() >= 0;
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions()));
    for (scan ? it->SeekToFirst()
              : it->Seek(std::string(1, kAggregateKeyPrefix));
         it->Valid(); it->Next()) {
      const absl::string_view key(it->key().data(), it->key().size());
      const absl::string_view val(it->value().data(), it->value().size());
      const bool arm = !key.empty() && key[0] == kAggregateKeyPrefix;
      if (!scan && !arm) break;
      if (key == kMetaKey) continue;
      const EntryHash hash = HashEntry(key, val);
      if (arm) tally.arms[std::string(key.substr(1))] = hash;
      if (scan) {
        tally.digest.Add(hash);
        if (ParseUserKey(key)) ++tally.users;
      }
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "read partition digest"));
    tallies_[partition] = std::move(tally);
    return absl::OkStatus();
  }

  absl::StatusOr<rocksdb::DB*> Db(int32_t partition) {
    auto it = dbs_.find(partition);
    if (it == dbs_.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("partition ", partition, " is not open"));
    }
    return it->second.get();
  }

  absl::StatusOr<PartitionMeta> ReadMeta(int32_t partition) {
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    std::string value;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kMetaKey, &value);
    PartitionMeta meta;
    if (s.IsNotFound()) {
      meta.set_topic(topic_);
      meta.set_partition(partition);
      meta.set_next_offset(-1);
      meta.set_schema_version(kStateSchemaVersion);
      return WithTally(partition, std::move(meta));
    }
    RETURN_IF_ERROR(FromRocks(s, "read partition metadata"));
    if (!meta.ParseFromString(value)) {
      return absl::DataLossError(absl::StrCat(
          "partition ", partition, ": undecodable partition metadata"));
    }
    if (meta.topic() != topic_ || meta.partition() != partition) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "state for topic %s partition %d found where topic %s partition %d "
          "was expected",
          meta.topic(), meta.partition(), topic_, partition));
    }
    if (meta.schema_version() != kStateSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "partition ", partition, " has state schema version ",
          meta.schema_version(), ", this build reads ", kStateSchemaVersion));
    }
    return WithTally(partition, std::move(meta));
  }

  // `meta` with the partition's current digest and user count.
  PartitionMeta WithTally(int32_t partition, PartitionMeta meta) const {
    auto it = tallies_.find(partition);
    if (it != tallies_.end()) {
      meta.set_content_digest(it->second.digest.Bytes());
      meta.set_users(it->second.users);
    }
    return meta;
  }

  // Keeps the commit buffers for the next commit unless one outgrew
  // kKeptCommitBufferBytes: a rare huge commit (a backfill's, a cache
  // full of dirty users) does not hold its memory afterwards.
  void ReleaseCommitBuffersIfLarge() {
    constexpr size_t kKeptCommitBufferBytes = size_t{16} << 20;
    if (commit_batch_.Data().capacity() > kKeptCommitBufferBytes) {
      commit_batch_ = rocksdb::WriteBatch();
    }
    if (commit_value_.capacity() > kKeptCommitBufferBytes) {
      std::string().swap(commit_value_);
    }
  }

  const std::string root_;
  const std::string topic_;
  const RocksStoreOptions options_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::shared_ptr<RecoverOnCommit> recover_on_commit_;
  // Changed only by the owning thread, under an exclusive lock; a
  // Checkpoint() from another thread reads it under a shared one.
  std::shared_mutex dbs_mu_;
  std::map<int32_t, std::unique_ptr<rocksdb::DB>> dbs_;
  std::map<int32_t, Tally> tallies_;  // one per open partition
  // Partitions whose last commit failed, or that a Checkpoint() (on the
  // snapshotting thread) found with a background error; still open, or
  // closed by a reopen that failed. Their next commit recovers first.
  std::mutex repair_mu_;
  std::set<int32_t> needs_repair_;
  // Commit()'s batch and encoding buffer, kept between commits (only the
  // owning thread commits).
  rocksdb::WriteBatch commit_batch_;
  std::string commit_value_;
};

}  // namespace

std::string PartitionDirName(int32_t partition) {
  return absl::StrFormat("p-%05d", partition);
}

absl::StatusOr<PartitionContents> ReadCheckpointContents(const std::string& dir,
                                                         int32_t partition) {
  rocksdb::Options options;
  options.create_if_missing = false;
  options.max_open_files = 16;  // table files are opened as they are read
  options.info_log = std::make_shared<DiscardingLogger>();
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly(options, dir, &raw),
                            "open " + dir));
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  PartitionContents contents;
  std::string value;
  rocksdb::Status s = db->Get(ro, kMetaKey, &value);
  if (s.IsNotFound()) {
    contents.meta.set_partition(partition);
    contents.meta.set_next_offset(-1);
  } else {
    RETURN_IF_ERROR(FromRocks(s, "read the metadata of " + dir));
    if (!contents.meta.ParseFromString(value) ||
        contents.meta.partition() != partition) {
      return absl::DataLossError("bad partition metadata in " + dir);
    }
  }
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  RETURN_IF_ERROR(ReadAggregates(*it, dir, &contents.aggregates));
  return contents;
}

absl::StatusOr<std::unique_ptr<StateStore>> OpenRocksStateStore(
    const std::string& state_dir, const std::string& topic,
    const RocksStoreOptions& options) {
  if (topic.empty()) return absl::InvalidArgumentError("topic is empty");
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("create ", state_dir, ": ", ec.message()));
  }
  // Restores that died half-way, or the old states of ones that died just
  // after their swap: never a partition's state.
  const std::string root = absl::StrCat(state_dir, "/partitions");
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (absl::StartsWith(entry.path().filename().string(), ".restore-")) {
      std::filesystem::remove_all(entry.path(), ec);
      if (ec) {
        return absl::UnavailableError(
            absl::StrCat("remove ", entry.path().string(), ": ", ec.message()));
      }
    }
  }
  return std::unique_ptr<StateStore>(new RocksStateStore(root, topic, options));
}

}  // namespace encore
