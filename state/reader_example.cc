// Embedding encore's snapshot reader in a ranking service: this program
// links only encore::reader (no writer, Kafka or event processing).
//
//   encore_reader_example <snapshot-dir> <arm>[,<arm>...] <user>...
//
// For each user it prints the arms best first by Thompson sampling, one
// line per user: "<user> <known|unknown> <arm>:<score> ...". A service
// would open the reader once, reopen it when LATEST moves (a new reader
// per published snapshot), and call LookupForScoring per request; the
// population (cold-start priors) is read once per snapshot.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "state/scoring.h"
#include "state/snapshot_reader.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s <snapshot-dir> <arm>[,<arm>...] <user>...\n",
                 argv[0]);
    return 2;
  }
  absl::StatusOr<std::unique_ptr<encore::SnapshotReader>> reader =
      encore::SnapshotReader::OpenLatest(argv[1]);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<encore::Population> population = (*reader)->ReadPopulation();
  if (!population.ok()) {
    std::fprintf(stderr, "%s\n", population.status().ToString().c_str());
    return 1;
  }
  const encore::ModelConfig model = (*reader)->model();
  const std::vector<std::string> arms = absl::StrSplit(argv[2], ',');
  // Scores as of the snapshot's event time, so that runs are reproducible.
  const int64_t as_of_ms = (*reader)->manifest().watermark_ms();
  for (int i = 3; i < argc; ++i) {
    absl::StatusOr<std::optional<encore::UserState>> user =
        (*reader)->LookupForScoring(argv[i]);
    if (!user.ok()) {
      std::fprintf(stderr, "%s\n", user.status().ToString().c_str());
      return 1;
    }
    const std::vector<encore::ArmScore> ranked = encore::RankArms(
        model, &*population, user->has_value() ? &**user : nullptr, arms,
        encore::RankMethod::kThompson, /*seed=*/7, as_of_ms);
    std::printf("%s %s", argv[i], user->has_value() ? "known" : "unknown");
    for (const encore::ArmScore& a : ranked) {
      std::printf(" %s:%.6f", a.arm_id.c_str(), a.score);
    }
    std::printf("\n");
  }
  return 0;
}
