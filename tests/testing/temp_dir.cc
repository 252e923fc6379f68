#include "tests/testing/temp_dir.h"

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

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

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace encore::testing
