#include "state/snapshot_layout.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace encore {
namespace {

namespace fs = std::filesystem;

constexpr char kSnapshotPrefix[] = "snap-";

}  // namespace

std::string SnapshotDirName(uint64_t id) {
  return absl::StrFormat("%s%020u", kSnapshotPrefix, id);
}

std::vector<uint64_t> ListSnapshotIds(const std::string& dir) {
  std::vector<uint64_t> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    absl::string_view rest = name;
    uint64_t id;
    if (absl::ConsumePrefix(&rest, kSnapshotPrefix) &&
        absl::SimpleAtoi(rest, &id)) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace encore
