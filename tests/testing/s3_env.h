// Helpers for tests against the real S3-compatible server started by the
// ctest fixture `s3` (ops/s3/start.sh). ctest gives such tests the standard
// AWS variables (AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, ...) and
// ENCORE_TEST_S3_URI, the fixture's bucket as s3://bucket.
#ifndef ENCORE_TESTS_TESTING_S3_ENV_H_
#define ENCORE_TESTS_TESTING_S3_ENV_H_

#include <string>

#include "absl/status/statusor.h"
#include "state/s3_config.h"

namespace encore::testing {

// Whether ENCORE_TEST_S3_URI is set (the test runs under the fixture).
bool HaveTestS3();

// s3://bucket/<name>-<unique>: a prefix no other test or run uses.
std::string UniqueS3Uri(const std::string& name);

// The configuration of UniqueS3Uri(name) from the environment.
absl::StatusOr<S3Config> TestS3Config(const std::string& name);

}  // namespace encore::testing

#endif  // ENCORE_TESTS_TESTING_S3_ENV_H_
