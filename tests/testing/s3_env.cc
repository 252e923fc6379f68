#include "tests/testing/s3_env.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "tests/testing/kafka_env.h"

namespace encore::testing {

bool HaveTestS3() {
  const char* uri = std::getenv("ENCORE_TEST_S3_URI");
  return uri != nullptr && *uri;
}

std::string UniqueS3Uri(const std::string& name) {
  const char* uri = std::getenv("ENCORE_TEST_S3_URI");
  return absl::StrCat(uri != nullptr && *uri ? uri : "s3://encore-test", "/",
                      UniqueName(name));
}

absl::StatusOr<S3Config> TestS3Config(const std::string& name) {
  return S3ConfigFromUri(UniqueS3Uri(name));
}

}  // namespace encore::testing
