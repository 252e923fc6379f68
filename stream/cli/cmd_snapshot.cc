// encore snapshot info: the latest snapshot's manifest.
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "state/snapshot_reader.h"
#include "stream/cli/common.h"

namespace encore::cli {

int SnapshotCommand(const std::vector<char*>& args) {
  const std::string cmd = "snapshot";
  if (args.size() != 2 || std::string(args[1]) != "info") {
    return UsageError(cmd,
                      "usage: encore snapshot info --snapshot-dir P [--json]");
  }
  const std::string dir = absl::GetFlag(FLAGS_snapshot_dir);
  if (dir.empty()) return UsageError(cmd, "--snapshot-dir is required");
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
  return 0;
}

}  // namespace encore::cli
