#include "state/checkpoint_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "state/digest.h"
#include "state/file_util.h"
#include "state/model_record.h"
#include "state/status_macros.h"

namespace encore {
namespace {

constexpr int kOwnersKept = 16;  // owner entries kept per partition
// Uploads (of any partition) a file may go unnamed before it is forgotten.
constexpr uint64_t kKnownUploads = 256;

struct FileHash {
  uint64_t size = 0;
  std::string object;  // "<size>-<xxh3-128 hex>"
};

// Reads the file at `path` once: its size and object name.
absl::StatusOr<FileHash> HashFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus("open " + path, errno);
  }
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  char buffer[1 << 16];
  uint64_t size = 0;
  absl::Status status;
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoStatus("read " + path, errno);
      break;
    }
    if (n == 0) break;
    XXH3_128bits_update(state, buffer, static_cast<size_t>(n));
    size += static_cast<uint64_t>(n);
  }
  ::close(fd);
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  if (!status.ok()) return status;
  return FileHash{size,
                  absl::StrFormat("%d-%016x%016x", size, h.high64, h.low64)};
}

// Checkpoint manifests are named by owner epoch, then next offset, both
// zero-padded: the greatest name is the latest checkpoint.
std::string CheckpointName(uint64_t epoch, int64_t next_offset) {
  return absl::StrFormat("%020d-%020d.json", epoch,
                         std::max<int64_t>(next_offset, 0));
}

bool IsCheckpointName(absl::string_view name) {
  uint64_t epoch = 0;
  int64_t offset = 0;
  return name.size() == 46 && absl::ConsumeSuffix(&name, ".json") &&
         name[20] == '-' && absl::SimpleAtoi(name.substr(0, 20), &epoch) &&
         absl::SimpleAtoi(name.substr(21), &offset);
}

std::string EpochName(uint64_t epoch) {
  return absl::StrFormat("%020d", epoch);
}

// The highest epoch among owner entries, 0 if none.
uint64_t MaxEpoch(const std::vector<ObjectStore::Entry>& owners) {
  uint64_t max = 0;
  for (const ObjectStore::Entry& e : owners) {
    uint64_t epoch = 0;
    if (absl::SimpleAtoi(e.name, &epoch)) max = std::max(max, epoch);
  }
  return max;
}

std::string PrintCheckpoint(const PartitionCheckpoint& checkpoint) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(checkpoint, &json, options);
  return json;
}

absl::StatusOr<PartitionCheckpoint> ParseCheckpoint(const std::string& json,
                                                    const std::string& what) {
  PartitionCheckpoint checkpoint;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // written by a newer version
  if (!google::protobuf::util::JsonStringToMessage(json, &checkpoint, options)
           .ok()) {
    return absl::DataLossError(
        absl::StrCat(what, ": not a checkpoint manifest"));
  }
  return checkpoint;
}

std::string Writer() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, " ", ::getpid());
}

}  // namespace

CheckpointStore::CheckpointStore(std::unique_ptr<ObjectStore> objects,
                                 std::string topic)
    : objects_(std::move(objects)), topic_(std::move(topic)) {}

std::string CheckpointStore::PartitionPrefix(int32_t partition) const {
  return absl::StrCat(topic_, "/", PartitionDirName(partition), "/");
}

absl::StatusOr<CheckpointUploadStats> CheckpointStore::Upload(
    const std::string& dir, const PartitionManifest& partition,
    const SnapshotManifest& snapshot, int64_t now_ms) {
  const std::string prefix = PartitionPrefix(partition.partition());
  ASSIGN_OR_RETURN(const uint64_t epoch, CheckClaim(partition.partition()));
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) paths.push_back(entry.path());
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("list ", dir, ": ", ec.message()));
  }
  std::sort(paths.begin(), paths.end());
  uint64_t upload = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    upload = ++uploads_;
    // Files of no recent checkpoint were compacted away: forget them.
    if (upload % kKnownUploads == 0) {
      absl::erase_if(known_, [&](const auto& entry) {
        return entry.second.used + kKnownUploads < upload;
      });
    }
  }

  CheckpointUploadStats stats;
  PartitionCheckpoint checkpoint;
  checkpoint.set_topic(topic_);
  checkpoint.set_partition(partition.partition());
  checkpoint.set_next_offset(partition.next_offset());
  checkpoint.set_watermark_ms(partition.watermark_ms());
  checkpoint.set_users(partition.users());
  checkpoint.set_digest(partition.digest());
  checkpoint.set_snapshot_id(snapshot.snapshot_id());
  *checkpoint.mutable_model() = snapshot.model();
  checkpoint.set_encore_version(snapshot.encore_version());
  checkpoint.set_owner_epoch(epoch);
  checkpoint.set_topic_partitions(snapshot.topic_partitions());
  checkpoint.set_created_at_ms(now_ms);
  checkpoint.set_writer(Writer());
  for (const std::filesystem::path& path : paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return ErrnoStatus("stat " + path.string(), errno);
    }
    const FileId id{
        st.st_dev, st.st_ino, static_cast<uint64_t>(st.st_size),
        int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
    std::string object;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = known_.find(id);
      if (it != known_.end()) {
        it->second.used = upload;
        object = it->second.object;
      }
    }
    if (object.empty()) {
      ASSIGN_OR_RETURN(FileHash hash, HashFile(path.string()));
      object = hash.object;
      std::lock_guard<std::mutex> lock(mu_);
      known_[id] = Known{object, upload};
    }
    // Known or not, the object may be gone: pruned by the partition's
    // owner while this process did not own it.
    const std::string key = absl::StrCat(prefix, "objects/", object);
    ASSIGN_OR_RETURN(bool exists, objects_->Exists(key));
    if (!exists) {
      RETURN_IF_ERROR(objects_->PutFile(key, path.string()));
      ++stats.files_sent;
      stats.bytes_sent += static_cast<uint64_t>(st.st_size);
    }
    CheckpointFile* file = checkpoint.add_files();
    file->set_name(path.filename().string());
    file->set_object(object);
    file->set_size(static_cast<uint64_t>(st.st_size));
    ++stats.files;
    stats.bytes += static_cast<uint64_t>(st.st_size);
  }
  checkpoint.set_total_bytes(stats.bytes);
  RETURN_IF_ERROR(objects_->Put(
      absl::StrCat(prefix, "checkpoints/",
                   CheckpointName(epoch, partition.next_offset())),
      PrintCheckpoint(checkpoint)));
  return stats;
}

absl::StatusOr<uint64_t> CheckpointStore::CheckClaim(int32_t partition) {
  uint64_t epoch = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = epochs_.find(partition);
    if (it != epochs_.end()) epoch = it->second;
  }
  if (epoch == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "partition ", partition, " was never claimed by this process"));
  }
  const std::string prefix = PartitionPrefix(partition);
  ASSIGN_OR_RETURN(std::vector<ObjectStore::Entry> owners,
                   objects_->List(prefix + "owners"));
  if (const uint64_t newest = MaxEpoch(owners); newest > epoch) {
    absl::StatusOr<std::string> who =
        objects_->Get(absl::StrCat(prefix, "owners/", EpochName(newest)));
    return absl::AbortedError(
        absl::StrCat("fenced: partition ", partition, " was claimed by ",
                     who.ok() ? *who : "another member", " (epoch ", newest,
                     ") after this process (epoch ", epoch, ")"));
  }
  return epoch;
}

absl::StatusOr<uint64_t> CheckpointStore::Claim(int32_t partition,
                                                int64_t now_ms) {
  const std::string prefix = PartitionPrefix(partition);
  // Racing claimers each try the next free epoch; one wins each.
  for (int attempt = 0; attempt < 10; ++attempt) {
    ASSIGN_OR_RETURN(std::vector<ObjectStore::Entry> owners,
                     objects_->List(prefix + "owners"));
    const uint64_t newest = MaxEpoch(owners);
    const uint64_t epoch = newest + 1;
    absl::Status s =
        objects_->PutIfAbsent(absl::StrCat(prefix, "owners/", EpochName(epoch)),
                              absl::StrCat(Writer(), " at ", now_ms));
    if (absl::IsAlreadyExists(s)) continue;
    RETURN_IF_ERROR(s);
    {
      std::lock_guard<std::mutex> lock(mu_);
      epochs_[partition] = epoch;
    }
    // Fence at once: the latest checkpoint, adopted under the new epoch,
    // supersedes whatever a former owner still writes under its own; with
    // nothing to adopt, a marker (no state) does.
    ASSIGN_OR_RETURN(std::vector<std::string> names,
                     CheckpointNames(partition));
    // The newest manifest that parses: a damaged one is passed over here
    // as a restore passes it over.
    PartitionCheckpoint adopted;
    bool found = false;
    absl::Status damaged;
    for (const std::string& name : names) {
      absl::StatusOr<PartitionCheckpoint> read =
          ReadCheckpoint(partition, name);
      if (absl::IsNotFound(read.status())) continue;  // pruned meanwhile
      if (absl::IsDataLoss(read.status())) {
        if (damaged.ok()) damaged = read.status();
        continue;
      }
      RETURN_IF_ERROR(read.status());
      adopted = *std::move(read);
      found = true;
      break;
    }
    if (!found && !damaged.ok()) {
      // Every manifest is damaged: a marker would say "no state" and the
      // partition would start from nothing.
      return absl::DataLossError(absl::StrCat(
          "every checkpoint manifest of partition ", partition, " in ",
          Describe(), " is damaged; the newest: ", damaged.message()));
    }
    if (!found) {
      adopted.set_topic(topic_);
      adopted.set_partition(partition);
      adopted.set_next_offset(-1);
      adopted.set_created_at_ms(now_ms);
      adopted.set_writer(Writer());
    }
    adopted.set_owner_epoch(epoch);  // the rest says who made the state
    RETURN_IF_ERROR(objects_->Put(
        absl::StrCat(prefix, "checkpoints/",
                     CheckpointName(epoch, adopted.next_offset())),
        PrintCheckpoint(adopted)));
    for (const ObjectStore::Entry& e : owners) {
      uint64_t old = 0;
      if (absl::SimpleAtoi(e.name, &old) && old + kOwnersKept <= newest) {
        RETURN_IF_ERROR(
            objects_->Delete(absl::StrCat(prefix, "owners/", e.name)));
      }
    }
    return epoch;
  }
  return absl::AbortedError(
      absl::StrCat(Describe(), ": partition ", partition,
                   " could not be claimed: other members keep claiming it"));
}

absl::StatusOr<std::vector<std::string>> CheckpointStore::CheckpointNames(
    int32_t partition) {
  ASSIGN_OR_RETURN(std::vector<ObjectStore::Entry> manifests,
                   objects_->List(PartitionPrefix(partition) + "checkpoints"));
  std::vector<std::string> names;
  for (const ObjectStore::Entry& m : manifests) {
    if (IsCheckpointName(m.name)) names.push_back(m.name);
  }
  std::sort(names.rbegin(), names.rend());
  return names;
}

absl::StatusOr<PartitionCheckpoint> CheckpointStore::ReadCheckpoint(
    int32_t partition, const std::string& name) {
  const std::string key =
      absl::StrCat(PartitionPrefix(partition), "checkpoints/", name);
  ASSIGN_OR_RETURN(std::string json, objects_->Get(key));
  ASSIGN_OR_RETURN(PartitionCheckpoint checkpoint,
                   ParseCheckpoint(json, absl::StrCat(Describe(), "/", key)));
  if (checkpoint.topic() != topic_ || checkpoint.partition() != partition) {
    return absl::DataLossError(absl::StrCat(
        Describe(), "/", key, " is of ", checkpoint.topic(), " partition ",
        checkpoint.partition(), ", not of ", topic_, " partition ", partition));
  }
  return checkpoint;
}

absl::StatusOr<std::optional<PartitionCheckpoint>> CheckpointStore::Latest(
    int32_t partition) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, CheckpointNames(partition));
  if (names.empty()) return std::nullopt;
  ASSIGN_OR_RETURN(PartitionCheckpoint checkpoint,
                   ReadCheckpoint(partition, names.front()));
  if (checkpoint.next_offset() < 0) return std::nullopt;  // a claim's marker
  return checkpoint;
}

absl::StatusOr<CheckpointStore::PruneStats> CheckpointStore::Prune(
    int32_t partition, int keep, int64_t min_age_ms) {
  // A former owner prunes nothing: what it would keep may not be what the
  // new owner's checkpoints need.
  RETURN_IF_ERROR(CheckClaim(partition).status());
  const std::string prefix = PartitionPrefix(partition);
  PruneStats stats;
  ASSIGN_OR_RETURN(std::vector<ObjectStore::Entry> manifests,
                   objects_->List(prefix + "checkpoints"));
  // Ages are measured on the store's clock: the newest manifest was just
  // written by this process's upload.
  int64_t now_ms = 0;
  for (const ObjectStore::Entry& m : manifests) {
    now_ms = std::max(now_ms, m.modified_ms);
  }
  // Sorted by name is sorted by epoch, then offset: the newest come last.
  absl::flat_hash_set<std::string> referenced;
  const int kept_from = std::max(0, static_cast<int>(manifests.size()) - keep);
  for (int i = 0; i < static_cast<int>(manifests.size()); ++i) {
    const ObjectStore::Entry& m = manifests[static_cast<size_t>(i)];
    const std::string key = absl::StrCat(prefix, "checkpoints/", m.name);
    if (i < kept_from && now_ms - m.modified_ms > min_age_ms) {
      RETURN_IF_ERROR(objects_->Delete(key));
      ++stats.checkpoints_removed;
      continue;
    }
    absl::StatusOr<std::string> json = objects_->Get(key);
    if (absl::IsNotFound(json.status())) continue;  // pruned meanwhile
    if (!json.ok()) return json.status();
    // An unreadable manifest protects nothing: pruning must not stop at it.
    absl::StatusOr<PartitionCheckpoint> checkpoint =
        ParseCheckpoint(*json, key);
    if (!checkpoint.ok()) continue;
    for (const CheckpointFile& f : checkpoint->files()) {
      referenced.insert(f.object());
    }
  }
  ASSIGN_OR_RETURN(std::vector<ObjectStore::Entry> objects,
                   objects_->List(prefix + "objects"));
  for (const ObjectStore::Entry& o : objects) {
    if (referenced.contains(o.name) || now_ms - o.modified_ms <= min_age_ms) {
      continue;
    }
    RETURN_IF_ERROR(objects_->Delete(absl::StrCat(prefix, "objects/", o.name)));
    ++stats.objects_removed;
  }
  return stats;
}

absl::StatusOr<std::vector<int32_t>> CheckpointStore::Partitions() {
  ASSIGN_OR_RETURN(std::vector<ObjectStore::Entry> entries,
                   objects_->List(topic_));
  std::vector<int32_t> partitions;
  for (const ObjectStore::Entry& entry : entries) {
    absl::string_view name = entry.name;
    int32_t partition = -1;
    if (absl::ConsumePrefix(&name, "p-") &&
        absl::SimpleAtoi(name, &partition) && partition >= 0) {
      partitions.push_back(partition);
    }
  }
  std::sort(partitions.begin(), partitions.end());
  return partitions;
}

absl::StatusOr<CheckpointDownloadStats> CheckpointStore::Download(
    const PartitionCheckpoint& checkpoint, const std::string& dir,
    const std::string& reuse_dir) {
  const std::string prefix = PartitionPrefix(checkpoint.partition());
  std::error_code ec;
  if (!std::filesystem::create_directory(dir, ec)) {
    return absl::UnavailableError(absl::StrCat(
        "create ", dir, ": ", ec ? ec.message() : "it exists already"));
  }
  CheckpointDownloadStats stats;
  for (const CheckpointFile& file : checkpoint.files()) {
    if (file.name().empty() || file.name().find('/') != std::string::npos ||
        file.name()[0] == '.') {
      return absl::DataLossError(
          absl::StrCat("checkpoint file name '", file.name(), "'"));
    }
    const std::string path = absl::StrCat(dir, "/", file.name());
    ++stats.files;
    // SST files are immutable: one the local state already has is linked
    // (and checked like a fetched one). Other files may be appended to.
    if (!reuse_dir.empty() && absl::EndsWith(file.name(), ".sst")) {
      const std::string local = absl::StrCat(reuse_dir, "/", file.name());
      struct stat st;
      if (::stat(local.c_str(), &st) == 0 &&
          static_cast<uint64_t>(st.st_size) == file.size() &&
          ::link(local.c_str(), path.c_str()) == 0) {
        absl::StatusOr<FileHash> hash = HashFile(path);
        if (hash.ok() && hash->object == file.object()) continue;
        ::unlink(path.c_str());
      }
    }
    RETURN_IF_ERROR(objects_->GetFile(
        absl::StrCat(prefix, "objects/", file.object()), path));
    ASSIGN_OR_RETURN(FileHash hash, HashFile(path));
    if (hash.object != file.object() || hash.size != file.size()) {
      return absl::DataLossError(absl::StrCat(
          Describe(), ": object ", prefix, "objects/", file.object(),
          " does not match its name (", hash.object, ")"));
    }
    ++stats.files_fetched;
    stats.bytes_fetched += hash.size;
  }
  RETURN_IF_ERROR(SyncDirectory(dir));
  return stats;
}

absl::StatusOr<PartitionMeta> RestoreIfNewer(CheckpointStore& checkpoints,
                                             StateStore& store,
                                             int32_t partition,
                                             const ModelConfigProto* model,
                                             RestoreReport* report) {
  RestoreReport ignored;
  if (report == nullptr) report = &ignored;
  ASSIGN_OR_RETURN(PartitionMeta local, store.OpenPartition(partition));
  // Damaged checkpoints, by (next offset, digest): an adopted copy of one
  // under a later epoch names the same objects.
  absl::flat_hash_set<std::pair<int64_t, std::string>> damaged;
  absl::flat_hash_set<std::string> unreadable;  // manifests, by name
  // A checkpoint whose object went missing (pruned after a newer one came)
  // sends the search back to the latest, a few times.
  bool pruned = false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSIGN_OR_RETURN(std::vector<std::string> names,
                     checkpoints.CheckpointNames(partition));
    pruned = false;
    for (const std::string& name : names) {
      absl::StatusOr<PartitionCheckpoint> checkpoint =
          checkpoints.ReadCheckpoint(partition, name);
      if (absl::IsNotFound(checkpoint.status())) {
        pruned = true;
        break;
      }
      if (absl::IsDataLoss(checkpoint.status())) {
        if (unreadable.insert(name).second) {
          report->refused.push_back(std::string(checkpoint.status().message()));
        }
        continue;
      }
      if (!checkpoint.ok()) return checkpoint.status();
      // The latest says how far the store is; a claim's marker: nowhere.
      if (checkpoint->next_offset() <= local.next_offset()) break;
      if (damaged.contains({checkpoint->next_offset(), checkpoint->digest()})) {
        continue;
      }
      if (model != nullptr && checkpoint->has_model()) {
        const std::vector<ModelMismatch> diff =
            DiffStateShapingModel(checkpoint->model(), *model);
        if (!diff.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              checkpoints.Describe(), ": the checkpoint of partition ",
              partition, " at offset ", checkpoint->next_offset(),
              " was written with other model parameters (",
              DescribeMismatches(diff),
              "): run with the parameters it was written with, or replay the "
              "topic with a new checkpoint store"));
        }
      }
      absl::StatusOr<PartitionMeta> meta =
          RestoreCheckpoint(checkpoints, store, partition, *checkpoint);
      if (meta.ok()) {
        report->restored = *std::move(checkpoint);
        return meta;
      }
      if (absl::IsNotFound(meta.status())) {
        pruned = true;
        break;
      }
      if (!absl::IsDataLoss(meta.status())) return meta.status();
      report->refused.push_back(std::string(meta.status().message()));
      damaged.insert({checkpoint->next_offset(), checkpoint->digest()});
    }
    if (!pruned) break;
  }
  // The store kept changing under the search: try again later rather than
  // go on from a local state that may be far behind.
  if (pruned) {
    return absl::UnavailableError(absl::StrCat(
        "the checkpoints of partition ", partition, " in ",
        checkpoints.Describe(), " kept being pruned during the restore"));
  }
  // Nothing ahead could be restored. The local state and Kafka's replay are
  // still exact; nothing at all, when the store had a state, would be a
  // silent loss.
  if (local.next_offset() >= 0) return local;
  if (!report->refused.empty()) {
    return absl::DataLossError(
        absl::StrCat("no checkpoint of partition ", partition, " in ",
                     checkpoints.Describe(),
                     " could be restored and there is no local state: ",
                     absl::StrJoin(report->refused, "; ")));
  }
  return local;  // no checkpoint at all
}

absl::StatusOr<PartitionMeta> RestoreCheckpoint(
    CheckpointStore& checkpoints, StateStore& store, int32_t partition,
    const PartitionCheckpoint& checkpoint) {
  RETURN_IF_ERROR(store.ClosePartition(partition));
  absl::Status replaced = store.ReplacePartition(
      partition,
      [&](const std::string& dir, const std::string& current) -> absl::Status {
        RETURN_IF_ERROR(
            checkpoints.Download(checkpoint, dir, current).status());
        // The files match their names; the state must match the manifest.
        ASSIGN_OR_RETURN(PartitionDigest digest, DigestDatabase(dir));
        if (HexDigest(digest.digest) != checkpoint.digest()) {
          return absl::DataLossError(
              absl::StrCat(checkpoints.Describe(), ": checkpoint of partition ",
                           partition, " at offset ", checkpoint.next_offset(),
                           " has digest ", HexDigest(digest.digest),
                           ", its manifest says ", checkpoint.digest()));
        }
        return absl::OkStatus();
      });
  // Whatever happened, the partition is opened again: restored, or as it
  // was if the restore failed before replacing it.
  ASSIGN_OR_RETURN(PartitionMeta meta, store.OpenPartition(partition));
  RETURN_IF_ERROR(replaced);
  if (meta.next_offset() != checkpoint.next_offset() ||
      meta.topic() != checkpoints.topic()) {
    // Not DataLoss: the restored state is in place already, and the caller
    // must not go on with the local state it had before.
    return absl::InternalError(
        absl::StrCat("partition ", partition, " restored from ",
                     checkpoints.Describe(), " resumes at ", meta.next_offset(),
                     " of ", meta.topic(), ", its checkpoint manifest says ",
                     checkpoint.next_offset(), " of ", checkpoints.topic()));
  }
  return meta;
}

}  // namespace encore
