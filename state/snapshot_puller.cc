#include "state/snapshot_puller.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "state/population.h"
#include "state/status_macros.h"

namespace encore {

absl::StatusOr<std::unique_ptr<SnapshotPuller>> SnapshotPuller::Open(
    CheckpointStore* checkpoints, const std::string& dir, int keep,
    Clock* clock) {
  // A mirror only holds what it restores: small RocksDB budgets do.
  RocksStoreOptions options;
  options.block_cache_bytes = 16 << 20;
  options.write_buffer_bytes = 16 << 20;
  options.memtable_bytes = 4 << 20;
  ASSIGN_OR_RETURN(std::unique_ptr<StateStore> mirror,
                   OpenRocksStateStore(absl::StrCat(dir, "/.mirror"),
                                       checkpoints->topic(), options));
  ASSIGN_OR_RETURN(
      std::unique_ptr<SnapshotPublisher> publisher,
      SnapshotPublisher::Open({dir, keep}, clock, checkpoints->topic()));
  return std::unique_ptr<SnapshotPuller>(
      new SnapshotPuller(checkpoints, std::move(mirror), std::move(publisher)));
}

absl::StatusOr<SnapshotManifest> SnapshotPuller::Pull() {
  last_restored_ = 0;
  last_refused_.clear();
  ASSIGN_OR_RETURN(std::vector<int32_t> ids, checkpoints_->Partitions());
  std::vector<SnapshotPart> parts;
  std::optional<ModelConfigProto> model;
  Population population;
  // The population needs the model; it is known once a checkpoint is read.
  std::vector<ArmAggregate> aggregates;
  int32_t topic_partitions = 0;
  for (int32_t id : ids) {
    RestoreReport report;
    absl::StatusOr<PartitionMeta> meta =
        RestoreIfNewer(*checkpoints_, *mirror_, id, nullptr, &report);
    for (std::string& why : report.refused) {
      last_refused_.push_back(std::move(why));
    }
    if (!meta.ok()) return meta.status();
    if (meta->next_offset() < 0) continue;  // no checkpoint of it yet
    if (report.restored.has_value()) {
      ++last_restored_;
      mirrored_[id] = *std::move(report.restored);
      mirrored_[id].clear_files();
    } else if (!mirrored_.contains(id)) {
      // Mirrored by an earlier process: its checkpoint is the latest.
      ASSIGN_OR_RETURN(std::optional<PartitionCheckpoint> latest,
                       checkpoints_->Latest(id));
      if (!latest.has_value()) continue;
      mirrored_[id] = *std::move(latest);
      mirrored_[id].clear_files();
    }
    const ModelConfigProto& partition_model = mirrored_[id].model();
    // Routing needs one count all partitions agree on.
    const int32_t count = mirrored_[id].topic_partitions();
    topic_partitions = parts.empty() || count == topic_partitions ? count : 0;
    if (!model.has_value()) {
      model = partition_model;
    } else if (model->SerializeAsString() !=
               partition_model.SerializeAsString()) {
      return absl::FailedPreconditionError(absl::StrCat(
          checkpoints_->Describe(), ": partition ", id,
          " was written with another model than the partitions before it"));
    }
    ASSIGN_OR_RETURN(PartitionContents contents,
                     mirror_->ReadPartitionContents(id));
    for (ArmAggregate& a : contents.aggregates) {
      aggregates.push_back(std::move(a));
    }
    parts.push_back({mirror_.get(), *meta});
  }
  if (parts.empty()) {
    return absl::NotFoundError(absl::StrCat("no checkpoint of topic ",
                                            checkpoints_->topic(), " in ",
                                            checkpoints_->Describe()));
  }
  const ModelConfig config = ModelConfig::FromProto(*model);
  publisher_->set_topic_partitions(topic_partitions);
  for (const ArmAggregate& a : aggregates) {
    AddToPopulation(config, a, &population);
  }
  return publisher_->Publish(
      parts, checkpoints_->topic(), config,
      SummarizeOffPolicy(config, population, PartsWatermark(parts)));
}

}  // namespace encore
