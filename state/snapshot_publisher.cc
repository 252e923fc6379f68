#include "state/snapshot_publisher.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "state/crash_point.h"
#include "state/digest.h"
#include "state/file_util.h"
#include "state/population.h"
#include "state/snapshot_reader.h"
#include "state/status_macros.h"

namespace encore {
namespace fs = std::filesystem;
namespace {

constexpr char kTmpPrefix[] = ".tmp-snap-";

absl::Status RemoveTree(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("remove ", path.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

// Whether two manifests cover the same partitions up to the same offsets
// (the content digest does not cover offsets: messages that were all
// dead-lettered move them without changing the content).
bool SameOffsets(const SnapshotManifest& a, const SnapshotManifest& b) {
  if (a.partitions_size() != b.partitions_size()) return false;
  for (int i = 0; i < a.partitions_size(); ++i) {
    if (a.partitions(i).partition() != b.partitions(i).partition() ||
        a.partitions(i).next_offset() != b.partitions(i).next_offset()) {
      return false;
    }
  }
  return true;
}

}  // namespace

int64_t MetasWatermark(const std::vector<PartitionMeta>& metas) {
  int64_t watermark = -1;
  for (const PartitionMeta& meta : metas) {
    if (meta.watermark_ms() > 0) {
      watermark = watermark < 0 ? meta.watermark_ms()
                                : std::min(watermark, meta.watermark_ms());
    }
  }
  return std::max<int64_t>(watermark, 0);
}

int64_t PartsWatermark(const std::vector<SnapshotPart>& parts) {
  std::vector<PartitionMeta> metas;
  metas.reserve(parts.size());
  for (const SnapshotPart& part : parts) metas.push_back(part.meta);
  return MetasWatermark(metas);
}

absl::StatusOr<std::unique_ptr<SnapshotPublisher>> SnapshotPublisher::Open(
    Options options, Clock* clock, const std::string& topic) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("snapshot directory is empty");
  }
  if (options.keep < 1) {
    return absl::InvalidArgumentError("at least one snapshot must be kept");
  }
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("create ", options.dir, ": ", ec.message()));
  }
  for (const auto& entry : fs::directory_iterator(options.dir, ec)) {
    if (entry.path().filename().string().rfind(kTmpPrefix, 0) == 0) {
      RETURN_IF_ERROR(RemoveTree(entry.path()));
    }
  }
  std::vector<uint64_t> ids = ListSnapshotIds(options.dir);
  if (!topic.empty()) {
    for (uint64_t id : ids) {
      // An unreadable manifest says nothing about its topic; readers skip
      // such a snapshot too.
      absl::StatusOr<SnapshotManifest> m =
          ReadManifest((fs::path(options.dir) / SnapshotDirName(id)).string());
      if (m.ok() && m->topic() != topic) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "snapshots of topic %s found in %s where topic %s was expected "
            "(%s): use another --snapshot-dir",
            m->topic(), options.dir, topic, SnapshotDirName(id)));
      }
    }
  }
  const uint64_t next = ids.empty() ? 1 : ids.back() + 1;
  auto publisher = std::unique_ptr<SnapshotPublisher>(
      new SnapshotPublisher(std::move(options), clock, next));
  if (!ids.empty()) {
    // The greedy policy's progressive validation continues from the newest
    // snapshot's summary; an unreadable one starts it afresh.
    absl::StatusOr<SnapshotManifest> newest = ReadManifest(
        (fs::path(publisher->options_.dir) / SnapshotDirName(ids.back()))
            .string());
    if (newest.ok()) publisher->previous_off_policy_ = newest->off_policy();
  }
  return publisher;
}

absl::StatusOr<SnapshotManifest> SnapshotPublisher::Publish(
    StateStore& store, const std::string& topic,
    const std::vector<PartitionMeta>& partitions, const ModelConfig& model,
    const OffPolicySummary& off_policy) {
  std::vector<SnapshotPart> parts;
  parts.reserve(partitions.size());
  for (const PartitionMeta& meta : partitions) parts.push_back({&store, meta});
  return Publish(parts, topic, model, off_policy);
}

absl::StatusOr<SnapshotManifest> SnapshotPublisher::Publish(
    const std::vector<SnapshotPart>& parts, const std::string& topic,
    const ModelConfig& model, const OffPolicySummary& off_policy) {
  ASSIGN_OR_RETURN(Prepared prepared, Prepare(parts, /*read_back=*/false));
  return Complete(prepared, topic, model, off_policy);
}

absl::StatusOr<SnapshotPublisher::Prepared> SnapshotPublisher::Checkpoint(
    const std::vector<SnapshotPart>& parts) {
  return Prepare(parts, /*read_back=*/true);
}

absl::StatusOr<SnapshotPublisher::Prepared> SnapshotPublisher::Prepare(
    const std::vector<SnapshotPart>& parts, bool read_back) {
  Prepared prepared;
  prepared.id = next_id_;
  const fs::path tmp =
      fs::path(options_.dir) / absl::StrCat(kTmpPrefix, prepared.id);
  RETURN_IF_ERROR(RemoveTree(tmp));
  std::error_code ec;
  fs::create_directories(tmp, ec);
  if (ec) return absl::UnavailableError("create " + tmp.string());
  for (const SnapshotPart& part : parts) {
    const std::string sub = PartitionDirName(part.meta.partition());
    const std::string dir = (tmp / sub).string();
    absl::Status s = part.store->Checkpoint(part.meta.partition(), dir);
    PartitionMeta meta = part.meta;
    if (s.ok() && read_back) {
      absl::StatusOr<PartitionContents> contents =
          ReadCheckpointContents(dir, part.meta.partition());
      if (contents.ok()) {
        meta = std::move(contents->meta);
        for (ArmAggregate& a : contents->aggregates) {
          prepared.aggregates.push_back(std::move(a));
        }
      } else {
        s = contents.status();
      }
    }
    if (!s.ok()) {
      RemoveTree(tmp).IgnoreError();
      return s;
    }
    prepared.metas.push_back(std::move(meta));
  }
  return prepared;
}

absl::StatusOr<SnapshotManifest> SnapshotPublisher::Complete(
    const Prepared& prepared, const std::string& topic,
    const ModelConfig& model, const OffPolicySummary& off_policy) {
  const uint64_t id = prepared.id;
  const std::string name = SnapshotDirName(id);
  const fs::path tmp = fs::path(options_.dir) / absl::StrCat(kTmpPrefix, id);
  const fs::path final_dir = fs::path(options_.dir) / name;
  std::error_code ec;

  SnapshotManifest manifest;
  manifest.set_schema_version(kSnapshotSchemaVersion);
  manifest.set_snapshot_id(id);
  manifest.set_topic(topic);
  manifest.set_topic_partitions(topic_partitions_);
  *manifest.mutable_model() = model.ToProto();
  *manifest.mutable_off_policy() = off_policy;
  AdvanceGreedyProgress(previous_off_policy_ ? &*previous_off_policy_ : nullptr,
                        manifest.mutable_off_policy());
  std::vector<std::pair<int32_t, std::string>> digests;
  int64_t watermark = -1;
  for (const PartitionMeta& meta : prepared.metas) {
    const std::string sub = PartitionDirName(meta.partition());
    // The store keeps the digest incrementally (state/digest.h); metadata
    // without one (not from a store) is digested by reading the checkpoint.
    absl::StatusOr<PartitionDigest> digest =
        ContentDigest::FromBytes(meta.content_digest())
            ? PartitionDigest{meta.content_digest(), meta.users()}
            : DigestDatabase((tmp / sub).string());
    if (!digest.ok()) {
      RemoveTree(tmp).IgnoreError();
      return digest.status();
    }
    PartitionManifest* p = manifest.add_partitions();
    p->set_partition(meta.partition());
    p->set_next_offset(meta.next_offset());
    p->set_watermark_ms(meta.watermark_ms());
    p->set_users(digest->users);
    p->set_digest(HexDigest(digest->digest));
    p->set_directory(sub);
    p->set_events_unroutable(meta.events_unroutable());
    p->set_routed_among(meta.routed_among());
    manifest.set_user_count(manifest.user_count() + digest->users);
    digests.emplace_back(meta.partition(), digest->digest);
    if (meta.watermark_ms() > 0) {
      watermark = watermark < 0 ? meta.watermark_ms()
                                : std::min(watermark, meta.watermark_ms());
    }
  }
  manifest.set_watermark_ms(std::max<int64_t>(watermark, 0));
  manifest.set_content_digest(HexDigest(CombineDigests(digests)));
  manifest.set_created_at_ms(clock_->NowMs());
  manifest.set_encore_version(ENCORE_VERSION);
  uint64_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(tmp, ec)) {
    if (entry.is_regular_file(ec)) bytes += entry.file_size(ec);
  }
  manifest.set_total_bytes(bytes);

  std::string json;
  google::protobuf::util::JsonPrintOptions jo;
  jo.add_whitespace = true;
  jo.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(manifest, &json, jo).ok()) {
    RemoveTree(tmp).IgnoreError();
    return absl::InternalError("cannot encode the manifest");
  }
  // Nothing new to publish if LATEST already names this content.
  if (absl::StatusOr<SnapshotManifest> latest =
          ReadLatestManifest(options_.dir);
      latest.ok() && latest->topic() == manifest.topic() &&
      latest->content_digest() == manifest.content_digest() &&
      latest->model().SerializeAsString() ==
          manifest.model().SerializeAsString() &&
      SameOffsets(*latest, manifest)) {
    RETURN_IF_ERROR(RemoveTree(tmp));
    return *latest;
  }
  CrashPoint("snapshot-checkpointed");
  absl::Status s = WriteFileDurably((tmp / kManifestFile).string(), json);
  if (s.ok()) s = SyncDirectory(tmp.string());
  if (s.ok()) {
    fs::rename(tmp, final_dir, ec);
    if (ec) {
      s = absl::UnavailableError(
          absl::StrCat("rename to ", final_dir.string(), ": ", ec.message()));
    }
  }
  if (s.ok()) s = SyncDirectory(options_.dir);
  if (s.ok()) CrashPoint("snapshot-renamed");
  if (s.ok()) {
    s = ReplaceFileAtomically((fs::path(options_.dir) / kLatestFile).string(),
                              name + "\n");
  }
  if (!s.ok()) {
    RemoveTree(tmp).IgnoreError();
    return s;
  }
  next_id_ = id + 1;
  previous_off_policy_ = manifest.off_policy();
  RemoveOld();
  return manifest;
}

void SnapshotPublisher::RemoveOld() {
  std::vector<uint64_t> ids = ListSnapshotIds(options_.dir);
  if (ids.size() <= static_cast<size_t>(options_.keep)) return;
  for (size_t i = 0; i + options_.keep < ids.size(); ++i) {
    // Best effort: a failure leaves an extra old snapshot behind.
    RemoveTree(fs::path(options_.dir) / SnapshotDirName(ids[i])).IgnoreError();
  }
}

}  // namespace encore
