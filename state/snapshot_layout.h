// The names in a snapshot directory (layout in state/FORMAT.md), shared by
// the publisher that writes them and the readers that follow them.
#ifndef ENCORE_STATE_SNAPSHOT_LAYOUT_H_
#define ENCORE_STATE_SNAPSHOT_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace encore {

inline constexpr uint32_t kSnapshotSchemaVersion = 1;
inline constexpr char kLatestFile[] = "LATEST";
inline constexpr char kManifestFile[] = "manifest.json";

// The directory name of snapshot `id`.
std::string SnapshotDirName(uint64_t id);

// The ids of the complete snapshot directories under `dir`, ascending.
std::vector<uint64_t> ListSnapshotIds(const std::string& dir);

}  // namespace encore

#endif  // ENCORE_STATE_SNAPSHOT_LAYOUT_H_
