#include "tests/testing/temp_dir.h"

#include <stdlib.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <vector>

#include "gtest/gtest.h"

namespace encore::testing {

TempDir::TempDir(const std::string& base) {
  const char* env = getenv("TEST_TMPDIR");
  const std::string parent =
      !base.empty() ? base : (env && *env ? env : "/tmp");
  std::string pattern = parent + "/encore-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  path_ = pattern;
}

namespace {

// Prints the last lines of `path` to stderr.
void PrintTail(const std::filesystem::path& path) {
  constexpr size_t kLines = 40;
  constexpr size_t kWidth = 400;
  std::ifstream in(path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    if (line.size() > kWidth) line.resize(kWidth);
    tail.push_back(std::move(line));
    if (tail.size() > kLines) tail.pop_front();
  }
  std::cerr << "---- last " << tail.size() << " lines of " << path.string()
            << " ----\n";
  for (const std::string& line : tail) std::cerr << line << "\n";
}

}  // namespace

TempDir::~TempDir() {
  std::error_code ec;
  if (::testing::Test::HasFailure()) {
    // The directory goes with the test; a failure's "see <dir>/x.log" would
    // point nowhere (and CI keeps only the output): show the logs' ends.
    std::vector<std::filesystem::path> logs;
    for (const auto& e : std::filesystem::directory_iterator(path_, ec)) {
      if (e.is_regular_file() && e.path().extension() == ".log") {
        logs.push_back(e.path());
      }
    }
    std::sort(logs.begin(), logs.end());
    for (const auto& log : logs) PrintTail(log);
    // To look at a failure's state and stores afterwards.
    const char* keep = getenv("ENCORE_TEST_KEEP_FAILED");
    if (keep != nullptr && *keep != '\0' && std::string(keep) != "0") {
      std::cerr << "kept " << path_ << " (ENCORE_TEST_KEEP_FAILED)\n";
      return;
    }
  }
  std::filesystem::remove_all(path_, ec);
}

}  // namespace encore::testing
