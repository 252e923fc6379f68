#include "stream/usable_cores.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(UsableCoresTest, CgroupV2QuotaIsRoundedUp) {
  testing::TempDir dir;
  Write(dir.path() + "/cpu.max", "150000 100000\n");
  EXPECT_EQ(CgroupCpuQuotaCores(dir.path()), 2);
  Write(dir.path() + "/cpu.max", "200000 100000\n");
  EXPECT_EQ(CgroupCpuQuotaCores(dir.path()), 2);
  Write(dir.path() + "/cpu.max", "50000 100000\n");
  EXPECT_EQ(CgroupCpuQuotaCores(dir.path()), 1);
}

TEST(UsableCoresTest, CgroupV2WithoutQuota) {
  testing::TempDir dir;
  Write(dir.path() + "/cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupCpuQuotaCores(dir.path()), 0);
}

TEST(UsableCoresTest, CgroupV1Quota) {
  testing::TempDir dir;
  Write(dir.path() + "/cpu/cpu.cfs_quota_us", "300000\n");
  Write(dir.path() + "/cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupCpuQuotaCores(dir.path()), 3);
  Write(dir.path() + "/cpu/cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(CgroupCpuQuotaCores(dir.path()), 0);
}

TEST(UsableCoresTest, NoCgroupFilesMeansNoQuota) {
  testing::TempDir dir;
  EXPECT_EQ(CgroupCpuQuotaCores(dir.path()), 0);
  Write(dir.path() + "/cpu.max", "garbage\n");
  EXPECT_EQ(CgroupCpuQuotaCores(dir.path()), 0);
}

TEST(UsableCoresTest, AtLeastOneAndAtMostTheMachine) {
  const int cores = UsableCores();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace
}  // namespace encore
