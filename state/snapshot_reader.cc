#include "state/snapshot_reader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/wire_format_lite.h"
#include "rocksdb/table.h"
#include "state/digest.h"
#include "state/file_util.h"
#include "state/key_codec.h"
#include "state/partitioner.h"
#include "state/rocks_status.h"
#include "state/snapshot_layout.h"
#include "state/status_macros.h"

namespace encore {

absl::StatusOr<std::string> LatestSnapshotPath(
    const std::string& snapshot_dir) {
  absl::StatusOr<std::string> latest =
      ReadFile(absl::StrCat(snapshot_dir, "/", kLatestFile));
  if (absl::IsNotFound(latest.status())) {
    std::error_code ec;
    if (!std::filesystem::is_directory(snapshot_dir, ec)) {
      return absl::NotFoundError(
          absl::StrCat("snapshot directory ", snapshot_dir, " does not exist"));
    }
    return absl::NotFoundError(
        absl::StrCat("no snapshot published in ", snapshot_dir, " yet"));
  }
  RETURN_IF_ERROR(latest.status());
  absl::string_view name = absl::StripAsciiWhitespace(*latest);
  if (name.empty() || name.find('/') != absl::string_view::npos) {
    return absl::DataLossError(
        absl::StrCat(snapshot_dir, "/", kLatestFile, " is malformed"));
  }
  return absl::StrCat(snapshot_dir, "/", name);
}

absl::StatusOr<SnapshotManifest> ReadManifest(
    const std::string& snapshot_path) {
  ASSIGN_OR_RETURN(std::string json,
                   ReadFile(absl::StrCat(snapshot_path, "/", kManifestFile)));
  SnapshotManifest manifest;
  if (!google::protobuf::util::JsonStringToMessage(json, &manifest).ok()) {
    return absl::DataLossError(
        absl::StrCat(snapshot_path, "/", kManifestFile, " does not parse"));
  }
  if (manifest.schema_version() != kSnapshotSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        snapshot_path, ": snapshot schema version ", manifest.schema_version(),
        ", this build reads ", kSnapshotSchemaVersion));
  }
  return manifest;
}

absl::StatusOr<SnapshotManifest> ReadLatestManifest(
    const std::string& snapshot_dir) {
  ASSIGN_OR_RETURN(std::string path, LatestSnapshotPath(snapshot_dir));
  return ReadManifest(path);
}

namespace {

bool Near(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max({1.0, std::abs(a), std::abs(b)});
}

bool SameSummary(const OffPolicySummary& a, const OffPolicySummary& b) {
  if (a.logged_rewards() != b.logged_rewards() ||
      !Near(a.logged_value(), b.logged_value()) ||
      a.estimates_size() != b.estimates_size()) {
    return false;
  }
  if (a.in_flight_impressions() != b.in_flight_impressions() ||
      a.published_greedy_arm() != b.published_greedy_arm() ||
      a.arms_size() != b.arms_size()) {
    return false;
  }
  for (int i = 0; i < a.arms_size(); ++i) {
    if (a.arms(i).arm_id() != b.arms(i).arm_id() ||
        a.arms(i).sums().n() != b.arms(i).sums().n() ||
        !Near(a.arms(i).sums().sum_wr(), b.arms(i).sums().sum_wr())) {
      return false;
    }
  }
  for (int i = 0; i < a.estimates_size(); ++i) {
    const PolicyEstimate& x = a.estimates(i);
    const PolicyEstimate& y = b.estimates(i);
    if (x.policy() != y.policy() || x.greedy_arm() != y.greedy_arm() ||
        x.matched() != y.matched() || !Near(x.ips(), y.ips()) ||
        !Near(x.snips(), y.snips()) ||
        !Near(x.ips_std_error(), y.ips_std_error()) ||
        !Near(x.snips_std_error(), y.snips_std_error())) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::Status VerifySnapshot(const std::string& snapshot_path) {
  ASSIGN_OR_RETURN(SnapshotManifest manifest, ReadManifest(snapshot_path));
  std::vector<std::pair<int32_t, std::string>> digests;
  for (const PartitionManifest& p : manifest.partitions()) {
    const std::string dir = absl::StrCat(snapshot_path, "/", p.directory());
    {
      rocksdb::Options options;
      options.create_if_missing = false;
      rocksdb::DB* raw = nullptr;
      RETURN_IF_ERROR(FromRocks(
          rocksdb::DB::OpenForReadOnly(options, dir, &raw), "open " + dir));
      std::unique_ptr<rocksdb::DB> db(raw);
      absl::Status s = FromRocks(db->VerifyChecksum(), "checksums of " + dir);
      if (!s.ok()) return absl::DataLossError(s.message());
    }
    absl::StatusOr<PartitionDigest> d = DigestDatabase(dir);
    if (!d.ok()) {
      if (absl::IsNotFound(d.status())) return d.status();
      return absl::DataLossError(d.status().message());
    }
    if (HexDigest(d->digest) != p.digest()) {
      return absl::DataLossError(
          absl::StrCat(dir, ": content digest ", HexDigest(d->digest),
                       " differs from the manifest's ", p.digest()));
    }
    if (d->users != p.users()) {
      return absl::DataLossError(absl::StrCat(
          dir, ": ", d->users, " users, the manifest says ", p.users()));
    }
    digests.emplace_back(p.partition(), d->digest);
  }
  if (HexDigest(CombineDigests(digests)) != manifest.content_digest()) {
    return absl::DataLossError(snapshot_path +
                               ": partition digests do not combine to the "
                               "manifest's content digest");
  }
  // The manifest's off-policy summary is derived from the aggregates: it
  // must be what they give.
  ASSIGN_OR_RETURN(std::unique_ptr<SnapshotReader> reader,
                   SnapshotReader::Open(snapshot_path));
  ASSIGN_OR_RETURN(Population population, reader->ReadPopulation());
  const OffPolicySummary recomputed =
      SummarizeOffPolicy(reader->model(), population, manifest.watermark_ms());
  // The greedy policy's progressive estimate depends on earlier snapshots
  // (which retention may have removed): compared is what the aggregates
  // alone give.
  OffPolicySummary stated = manifest.off_policy();
  stated.clear_greedy_progress();
  stated.mutable_estimates()->Clear();
  for (const PolicyEstimate& e : manifest.off_policy().estimates()) {
    if (e.policy() != "greedy-mean") *stated.add_estimates() = e;
  }
  if (!SameSummary(recomputed, stated)) {
    return absl::DataLossError(
        absl::StrCat(snapshot_path,
                     ": the manifest's off-policy summary differs from the "
                     "one its arm aggregates give"));
  }
  return absl::OkStatus();
}

std::vector<std::string> ListSnapshots(const std::string& snapshot_dir) {
  std::vector<uint64_t> ids = ListSnapshotIds(snapshot_dir);
  std::vector<std::string> paths;
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    paths.push_back(absl::StrCat(snapshot_dir, "/", SnapshotDirName(*it)));
  }
  return paths;
}

absl::StatusOr<std::unique_ptr<SnapshotReader>> SnapshotReader::OpenLatest(
    const std::string& snapshot_dir, OpenOptions options) {
  auto open = [&](const std::string& path)
      -> absl::StatusOr<std::unique_ptr<SnapshotReader>> {
    if (options.verify_content) RETURN_IF_ERROR(VerifySnapshot(path));
    return Open(path, options);
  };
  absl::Status last;
  std::string latest;
  // Retention may remove the snapshot between reading LATEST and opening it;
  // LATEST then names a newer one.
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<std::string> path = LatestSnapshotPath(snapshot_dir);
    if (absl::IsNotFound(path.status())) return path.status();
    if (!path.ok()) {  // a damaged LATEST: any complete snapshot will do
      last = path.status();
      latest.clear();
      break;
    }
    latest = *path;
    absl::StatusOr<std::unique_ptr<SnapshotReader>> reader = open(latest);
    if (reader.ok()) return reader;
    last = reader.status();
    // Retention removing files mid-open shows as missing files (NotFound or
    // Corruption): if LATEST has moved on meanwhile, follow it.
    absl::StatusOr<std::string> now = LatestSnapshotPath(snapshot_dir);
    if (!now.ok() || *now == latest) break;
  }
  // The latest snapshot is unusable: fall back to the newest older one.
  for (const std::string& path : ListSnapshots(snapshot_dir)) {
    if (!latest.empty() && path >= latest) continue;
    absl::StatusOr<std::unique_ptr<SnapshotReader>> reader = open(path);
    if (!reader.ok()) continue;
    (*reader)->fallback_reason_ =
        absl::StrCat("latest snapshot ", latest, " is unusable (",
                     last.ToString(), "); using ", path);
    return reader;
  }
  return absl::DataLossError(absl::StrCat(
      "no usable snapshot in ", snapshot_dir, "; latest: ", last.ToString()));
}

absl::StatusOr<std::unique_ptr<SnapshotReader>> SnapshotReader::Open(
    const std::string& snapshot_path, OpenOptions open_options) {
  std::unique_ptr<SnapshotReader> reader(new SnapshotReader());
  reader->path_ = snapshot_path;
  ASSIGN_OR_RETURN(reader->manifest_, ReadManifest(snapshot_path));
  // One block cache for every partition: lookups land on any of them, and
  // RocksDB's default (a small cache per database) thrashes when there are
  // many (p99 48 us against 21 us at 64 partitions, bench/results/
  // state-10m.md).
  reader->cache_ = rocksdb::NewLRUCache(open_options.block_cache_bytes);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = reader->cache_;
  for (const PartitionManifest& p : reader->manifest_.partitions()) {
    rocksdb::Options options;
    options.create_if_missing = false;
    // Open every file now, so that removing an old snapshot later cannot
    // pull a file from under an open reader.
    options.max_open_files = -1;
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    const std::string dir = absl::StrCat(snapshot_path, "/", p.directory());
    rocksdb::DB* raw = nullptr;
    RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly(options, dir, &raw),
                              "open " + dir));
    reader->dbs_.emplace_back(raw);
  }
  // Users are routed when the producers' partitioner provably put every
  // user's events in the partition it names: every partition counted its
  // events against the topic's present partition count from its start.
  const int32_t n = reader->manifest_.topic_partitions();
  bool routable = n > 0 && !open_options.search_all_partitions;
  for (const PartitionManifest& p : reader->manifest_.partitions()) {
    routable = routable && p.partition() < n && p.events_unroutable() == 0 &&
               p.routed_among() == n;
  }
  if (routable) {
    reader->db_of_partition_.assign(static_cast<size_t>(n), -1);
    for (int i = 0; i < reader->manifest_.partitions_size(); ++i) {
      reader->db_of_partition_[static_cast<size_t>(
          reader->manifest_.partitions(i).partition())] = i;
    }
  }
  return reader;
}

SnapshotReader::~SnapshotReader() = default;

ModelConfig SnapshotReader::model() const {
  return ModelConfig::FromProto(manifest_.model());
}

absl::StatusOr<Population> SnapshotReader::ReadPopulation() const {
  const ModelConfig config = model();
  Population population;
  const std::string prefix(1, kAggregateKeyPrefix);
  for (const auto& db : dbs_) {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      ArmAggregate a;
      if (!a.ParseFromArray(it->value().data(),
                            static_cast<int>(it->value().size()))) {
        return absl::DataLossError(
            absl::StrCat(path_, ": undecodable arm aggregate"));
      }
      AddToPopulation(config, a, &population);
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "read arm aggregates"));
  }
  return population;
}

absl::StatusOr<bool> SnapshotReader::Get(absl::string_view user_id,
                                         std::string* value) const {
  const std::string key = UserKey(user_id);
  auto get = [&](rocksdb::DB& db) -> absl::StatusOr<bool> {
    rocksdb::Status s = db.Get(rocksdb::ReadOptions(), key, value);
    if (s.IsNotFound()) return false;
    RETURN_IF_ERROR(FromRocks(s, "lookup"));
    return true;
  };
  if (!db_of_partition_.empty()) {
    const int i = db_of_partition_[static_cast<size_t>(KafkaPartition(
        user_id, static_cast<int32_t>(db_of_partition_.size())))];
    if (i < 0) return false;  // another member's partition
    return get(*dbs_[static_cast<size_t>(i)]);
  }
  for (const auto& db : dbs_) {
    ASSIGN_OR_RETURN(bool found, get(*db));
    if (found) return true;
  }
  return false;
}

absl::StatusOr<std::optional<UserState>> SnapshotReader::Lookup(
    absl::string_view user_id) const {
  std::string value;
  ASSIGN_OR_RETURN(bool found, Get(user_id, &value));
  if (!found) return std::optional<UserState>();
  UserState state;
  if (!state.ParseFromString(value)) {
    return absl::DataLossError(
        absl::StrCat("undecodable state for user ", user_id));
  }
  return std::optional<UserState>(std::move(state));
}

absl::StatusOr<std::optional<UserState>> SnapshotReader::LookupForScoring(
    absl::string_view user_id) const {
  std::string value;
  ASSIGN_OR_RETURN(bool found, Get(user_id, &value));
  if (!found) return std::optional<UserState>();
  // Only the fields scoring reads are decoded; the others (recent plays,
  // sketches, pending impressions, de-duplication ring...) are skipped
  // over by their lengths.
  UserState state;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(value.data()),
      static_cast<int>(value.size()));
  using google::protobuf::internal::WireFormatLite;
  bool ok = true;
  while (ok) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const auto wire = WireFormatLite::GetTagWireType(tag);
    if (wire != WireFormatLite::WIRETYPE_LENGTH_DELIMITED ||
        (field != UserState::kUserIdFieldNumber &&
         field != UserState::kArmsFieldNumber &&
         field != UserState::kFeaturesFieldNumber)) {
      ok = WireFormatLite::SkipField(&in, tag);
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) {
      ok = false;
      break;
    }
    // An empty field at the very end has no buffer to point at.
    const void* data = "";
    int size = 0;
    if (length > 0 && (!in.GetDirectBufferPointer(&data, &size) ||
                       static_cast<uint32_t>(size) < length)) {
      ok = false;
      break;
    }
    const char* bytes = static_cast<const char*>(data);
    if (field == UserState::kUserIdFieldNumber) {
      state.set_user_id(bytes, length);
    } else if (field == UserState::kArmsFieldNumber) {
      ok = state.add_arms()->ParseFromArray(bytes, static_cast<int>(length));
    } else {
      // A repeated occurrence of a message field merges, as protobuf does.
      google::protobuf::io::CodedInputStream features(
          reinterpret_cast<const uint8_t*>(bytes), static_cast<int>(length));
      ok = state.mutable_features()->MergeFromCodedStream(&features) &&
           features.ConsumedEntireMessage();
    }
    ok = ok && in.Skip(static_cast<int>(length));
  }
  if (!ok || !in.ConsumedEntireMessage()) {
    return absl::DataLossError(
        absl::StrCat("undecodable state for user ", user_id));
  }
  return std::optional<UserState>(std::move(state));
}

}  // namespace encore
