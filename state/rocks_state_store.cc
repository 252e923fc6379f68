#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/statistics.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"
#include "state/key_codec.h"
#include "state/rocks_status.h"
#include "state/state_store.h"
#include "state/status_macros.h"

namespace encore {
namespace {

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
  }

  ~RocksStateStore() override {
    for (auto& [p, db] : dbs_) db->Close().PermitUncheckedError();
  }

  absl::StatusOr<PartitionMeta> OpenPartition(int32_t partition) override {
    if (dbs_.count(partition)) return ReadMeta(partition);
    const std::string dir =
        absl::StrCat(root_, "/", PartitionDirName(partition));
    std::error_code ec;
    std::filesystem::create_directories(root_, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("create ", root_, ": ", ec.message()));
    }
    rocksdb::DB* raw = nullptr;
    RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(DbOptions(), dir, &raw),
                              absl::StrCat("open ", dir)));
    dbs_[partition].reset(raw);
    absl::StatusOr<PartitionMeta> meta = ReadMeta(partition);
    if (!meta.ok()) {
      dbs_.erase(partition);
      return meta.status();
    }
    return meta;
  }

  absl::Status ClosePartition(int32_t partition) override {
    auto it = dbs_.find(partition);
    if (it == dbs_.end()) return absl::OkStatus();
    absl::Status s = FromRocks(it->second->Close(), "close partition");
    dbs_.erase(it);
    return s;
  }

  absl::StatusOr<std::optional<UserState>> ReadUser(
      int32_t partition, absl::string_view user_id) override {
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    std::string value;
    rocksdb::Status s =
        db->Get(rocksdb::ReadOptions(), UserKey(user_id), &value);
    if (s.IsNotFound()) return std::optional<UserState>();
    RETURN_IF_ERROR(FromRocks(s, "read user"));
    UserState state;
    if (!state.ParseFromString(value)) {
      return absl::DataLossError(absl::StrCat(
          "partition ", partition, ": undecodable state for user ", user_id));
    }
    return std::optional<UserState>(std::move(state));
  }

  absl::StatusOr<PartitionContents> ReadPartitionContents(
      int32_t partition) override {
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    PartitionContents contents;
    ASSIGN_OR_RETURN(contents.meta, ReadMeta(partition));
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(std::string(1, kAggregateKeyPrefix));
         it->Valid() && !it->key().empty() &&
         it->key()[0] == kAggregateKeyPrefix;
         it->Next()) {
      ArmAggregate& a = contents.aggregates.emplace_back();
      if (!a.ParseFromArray(it->value().data(),
                            static_cast<int>(it->value().size()))) {
        return absl::DataLossError(absl::StrCat("partition ", partition,
                                                ": undecodable arm aggregate"));
      }
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "read arm aggregates"));
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
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    rocksdb::WriteBatch batch;
    std::string value;
    for (const UserState* user : commit.users) {
      user->SerializeToString(&value);
      batch.Put(UserKey(user->user_id()), value);
    }
    for (const ArmAggregate* a : commit.aggregates) {
      a->SerializeToString(&value);
      batch.Put(AggregateKey(a->arm_id()), value);
    }
    for (const std::string& arm : commit.deleted_aggregates) {
      batch.Delete(AggregateKey(arm));
    }
    // Deletes before puts: an entry both removed and re-added stays.
    for (const ExpiryEntry& e : commit.expiry_deletes) {
      batch.Delete(ExpiryKey(e.deadline_ms, e.user_id));
    }
    for (const ExpiryEntry& e : commit.expiry_puts) {
      batch.Put(ExpiryKey(e.deadline_ms, e.user_id), "");
    }
    PartitionMeta stored = commit.meta;
    stored.set_topic(topic_);
    stored.set_partition(partition);
    stored.set_schema_version(kStateSchemaVersion);
    stored.SerializeToString(&value);
    batch.Put(kMetaKey, value);
    rocksdb::WriteOptions wo;
    wo.disableWAL = options_.disable_wal;
    wo.sync = options_.sync_commits && !options_.disable_wal;
    return FromRocks(db->Write(wo, &batch),
                     absl::StrCat("commit partition ", partition));
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
    }
    return stats;
  }

  absl::Status Checkpoint(int32_t partition, const std::string& dir) override {
    ASSIGN_OR_RETURN(rocksdb::DB * db, Db(partition));
    rocksdb::Checkpoint* raw = nullptr;
    RETURN_IF_ERROR(
        FromRocks(rocksdb::Checkpoint::Create(db, &raw), "checkpoint"));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    // log_size_for_flush = 0 flushes the memtable first, so the checkpoint
    // holds only SST files and needs no WAL replay to open read-only.
    return FromRocks(checkpoint->CreateCheckpoint(dir, 0),
                     absl::StrCat("checkpoint partition ", partition));
  }

 private:
  rocksdb::Options DbOptions() const {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.write_buffer_manager = write_buffers_;
    o.write_buffer_size = options_.memtable_bytes;
    o.compression = rocksdb::kLZ4Compression;
    o.max_background_jobs = 2;
    o.max_open_files = 256;
    o.statistics = statistics_;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache_;
    table.cache_index_and_filter_blocks = true;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return o;
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
      return meta;
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
    return meta;
  }

  const std::string root_;
  const std::string topic_;
  const RocksStoreOptions options_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::map<int32_t, std::unique_ptr<rocksdb::DB>> dbs_;
};

}  // namespace

std::string PartitionDirName(int32_t partition) {
  return absl::StrFormat("p-%05d", partition);
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
  return std::unique_ptr<StateStore>(new RocksStateStore(
      absl::StrCat(state_dir, "/partitions"), topic, options));
}

}  // namespace encore
