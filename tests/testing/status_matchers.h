// gMock matchers for absl::Status / absl::StatusOr, which Debian 12's Abseil
// lacks.
//
//   EXPECT_THAT(store->Commit(...), IsOk());
//   EXPECT_THAT(reader.status(), StatusIs(absl::StatusCode::kNotFound));
#ifndef ENCORE_TESTS_TESTING_STATUS_MATCHERS_H_
#define ENCORE_TESTS_TESTING_STATUS_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "state/status_macros.h"

namespace encore::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s.ToString();
  return s.ok();
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s.ToString();
  return s.code() == code;
}

}  // namespace encore::testing

// Asserts that a StatusOr is OK and yields its value.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)                            \
  auto ENCORE_CONCAT_(encore_sor_, __LINE__) = (rexpr);             \
  ASSERT_TRUE(ENCORE_CONCAT_(encore_sor_, __LINE__).ok())           \
      << ENCORE_CONCAT_(encore_sor_, __LINE__).status().ToString(); \
  lhs = std::move(ENCORE_CONCAT_(encore_sor_, __LINE__)).value()

#define ASSERT_OK(expr)                                  \
  do {                                                   \
    const ::absl::Status encore_s_ = (expr);             \
    ASSERT_TRUE(encore_s_.ok()) << encore_s_.ToString(); \
  } while (0)

#endif  // ENCORE_TESTS_TESTING_STATUS_MATCHERS_H_
