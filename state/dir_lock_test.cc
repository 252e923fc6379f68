#include "state/dir_lock.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;
using ::encore::testing::StatusIs;
using ::testing::HasSubstr;

TEST(DirLockTest, SecondHolderIsRefusedWithTheFirstOnesPidAndHost) {
  testing::TempDir dir;
  auto first = DirLock::Acquire(dir.Sub("state"), "--state-dir");
  ASSERT_THAT(first, IsOk());
  auto second = DirLock::Acquire(dir.Sub("state"), "--state-dir");
  ASSERT_THAT(second, StatusIs(absl::StatusCode::kFailedPrecondition));
  char host[256] = {0};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_THAT(
      second.status().message(),
      HasSubstr("--state-dir " + dir.Sub("state") + " is in use by pid " +
                std::to_string(getpid()) + " on host " + host));

  // Released with the holder: the next one gets it.
  first->reset();
  EXPECT_THAT(DirLock::Acquire(dir.Sub("state"), "--state-dir"), IsOk());
}

TEST(DirLockTest, StaleLockFileOfADeadHolderIsTakenOver) {
  testing::TempDir dir;
  { std::ofstream(dir.Sub("LOCK")) << "pid 1 on host gone (since 2000)\n"; }
  auto lock = DirLock::Acquire(dir.path(), "--snapshot-dir");
  ASSERT_THAT(lock, IsOk());
  std::stringstream text;
  text << std::ifstream(dir.Sub("LOCK")).rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("pid " + std::to_string(getpid())));
}

}  // namespace
}  // namespace encore
