#include "state/snapshot_reader.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "state/file_util.h"
#include "state/key_codec.h"
#include "state/rocks_status.h"
#include "state/snapshot_publisher.h"
#include "state/status_macros.h"

namespace encore {
namespace {

absl::StatusOr<std::string> LatestPath(const std::string& snapshot_dir) {
  absl::StatusOr<std::string> latest =
      ReadFile(absl::StrCat(snapshot_dir, "/", kLatestFile));
  if (absl::IsNotFound(latest.status())) {
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

}  // namespace

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
  ASSIGN_OR_RETURN(std::string path, LatestPath(snapshot_dir));
  return ReadManifest(path);
}

absl::StatusOr<std::unique_ptr<SnapshotReader>> SnapshotReader::OpenLatest(
    const std::string& snapshot_dir) {
  absl::Status last;
  // Retention may remove the snapshot between reading LATEST and opening it;
  // LATEST then names a newer one.
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(std::string path, LatestPath(snapshot_dir));
    absl::StatusOr<std::unique_ptr<SnapshotReader>> reader = Open(path);
    if (!absl::IsNotFound(reader.status())) return reader;
    last = reader.status();
  }
  return last;
}

absl::StatusOr<std::unique_ptr<SnapshotReader>> SnapshotReader::Open(
    const std::string& snapshot_path) {
  std::unique_ptr<SnapshotReader> reader(new SnapshotReader());
  reader->path_ = snapshot_path;
  ASSIGN_OR_RETURN(reader->manifest_, ReadManifest(snapshot_path));
  for (const PartitionManifest& p : reader->manifest_.partitions()) {
    rocksdb::Options options;
    options.create_if_missing = false;
    // Open every file now, so that removing an old snapshot later cannot
    // pull a file from under an open reader.
    options.max_open_files = -1;
    const std::string dir = absl::StrCat(snapshot_path, "/", p.directory());
    rocksdb::DB* raw = nullptr;
    RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly(options, dir, &raw),
                              "open " + dir));
    reader->dbs_.emplace_back(raw);
  }
  return reader;
}

SnapshotReader::~SnapshotReader() = default;

ModelConfig SnapshotReader::model() const {
  const ModelConfigProto& p = manifest_.model();
  ModelConfig config;
  config.half_lives_ms.assign(p.half_lives_ms().begin(),
                              p.half_lives_ms().end());
  config.prior_alpha = p.prior_alpha();
  config.prior_beta = p.prior_beta();
  config.arm_half_life_ms = p.arm_half_life_ms();
  config.success_min_ms_played = p.success_min_ms_played();
  config.max_arms_per_user = p.max_arms_per_user();
  return config;
}

absl::StatusOr<std::optional<UserState>> SnapshotReader::Lookup(
    absl::string_view user_id) const {
  const std::string key = UserKey(user_id);
  std::string value;
  for (const auto& db : dbs_) {
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), key, &value);
    if (s.IsNotFound()) continue;
    RETURN_IF_ERROR(FromRocks(s, "lookup"));
    UserState state;
    if (!state.ParseFromString(value)) {
      return absl::DataLossError(
          absl::StrCat("undecodable state for user ", user_id));
    }
    return std::optional<UserState>(std::move(state));
  }
  return std::optional<UserState>();
}

}  // namespace encore
