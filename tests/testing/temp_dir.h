// A temporary directory removed at the end of the test (kept when the test
// has failed and ENCORE_TEST_KEEP_FAILED is set, to look at afterwards).
#ifndef ENCORE_TESTS_TESTING_TEMP_DIR_H_
#define ENCORE_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace encore::testing {

class TempDir {
 public:
  TempDir() : TempDir("") {}
  // Creates it under `base` instead (e.g. a memory-backed file system);
  // an empty base means the default: $TEST_TMPDIR, else /tmp.
  explicit TempDir(const std::string& base);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace encore::testing

#endif  // ENCORE_TESTS_TESTING_TEMP_DIR_H_
