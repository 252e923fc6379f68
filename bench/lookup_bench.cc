// lookup_bench: what the ranking layer pays per user lookup through the C++
// snapshot reader (state/snapshot_reader.h), from a page-cached snapshot.
// Draws POOL random ids "user-%07d" below USERS (those present form the
// existing pool) and POOL ids no generator produces (the unknown pool),
// warms the page cache by looking every one up once, then times LOOKUPS
// lookups alternating existing and unknown users in random order on the
// calling thread. Prints one JSON line: p50/p99/p999 in microseconds over
// all, existing and unknown lookups, and lookups/s. Pin it to one core
// (taskset -c 1) for "on one core". MODE "scoring" (the default) times
// LookupForScoring, what a ranking request calls; "full" times Lookup.
//
//   lookup_bench SNAPSHOT_DIR USERS [LOOKUPS] [POOL] [MODE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "state/snapshot_reader.h"

namespace {

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: lookup_bench SNAPSHOT_DIR USERS [LOOKUPS] [POOL]\n");
    return 2;
  }
  const uint64_t users = std::strtoull(argv[2], nullptr, 10);
  const size_t lookups =
      argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 200000;
  const size_t pool = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 100000;
  const std::string mode = argc > 5 ? argv[5] : "scoring";
  if (mode != "scoring" && mode != "full") {
    std::fprintf(stderr, "MODE is scoring or full, not %s\n", mode.c_str());
    return 2;
  }
  auto reader = encore::SnapshotReader::OpenLatest(argv[1]);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
    return 1;
  }
  std::mt19937_64 rng(42);
  std::vector<std::string> existing, unknown;
  for (size_t i = 0; i < pool; ++i) {
    std::string id =
        absl::StrFormat("user-%07d", rng() % std::max<uint64_t>(users, 1));
    auto state = (*reader)->Lookup(id);
    if (!state.ok()) return 1;
    if (state->has_value()) existing.push_back(std::move(id));
    std::string none = absl::StrFormat("nobody-%09d", rng() % 1000000000);
    if (!(*reader)->Lookup(none).ok()) return 1;  // warms the same pages
    unknown.push_back(std::move(none));
  }
  if (existing.empty()) {
    std::fprintf(stderr, "no existing user among %zu random ids\n", pool);
    return 1;
  }
  std::vector<double> all, hit, miss;
  all.reserve(lookups);
  size_t found = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < lookups; ++i) {
    const bool want_hit = i % 2 == 0;
    const std::string& id = want_hit ? existing[rng() % existing.size()]
                                     : unknown[rng() % unknown.size()];
    const auto t0 = std::chrono::steady_clock::now();
    auto state = mode == "full" ? (*reader)->Lookup(id)
                                : (*reader)->LookupForScoring(id);
    const double us = std::chrono::duration<double, std::micro>(
                          std::chrono::steady_clock::now() - t0)
                          .count();
    if (!state.ok()) return 1;
    found += state->has_value() ? 1 : 0;
    all.push_back(us);
    (want_hit ? hit : miss).push_back(us);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf(
      "{\"mode\": \"%s\", \"routed\": %s, \"partitions\": %d, "
      "\"lookups\": %zu, \"found\": %zu, \"existing_pool\": %zu, "
      "\"lookup_p50_us\": %.2f, "
      "\"lookup_p99_us\": %.2f, \"lookup_p999_us\": %.2f, \"existing_p50_us\": "
      "%.2f, "
      "\"existing_p99_us\": %.2f, \"unknown_p50_us\": %.2f, "
      "\"unknown_p99_us\": %.2f, "
      "\"lookups_per_s\": %.0f}\n",
      mode.c_str(), (*reader)->routes_users() ? "true" : "false",
      (*reader)->manifest().partitions_size(), lookups, found, existing.size(),
      Quantile(all, 0.5), Quantile(all, 0.99), Quantile(all, 0.999),
      Quantile(hit, 0.5), Quantile(hit, 0.99), Quantile(miss, 0.5),
      Quantile(miss, 0.99), static_cast<double>(lookups) / secs);
  return found == hit.size() ? 0 : 1;
}
