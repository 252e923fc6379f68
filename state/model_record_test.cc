#include "state/model_record.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace encore {
namespace {

class ModelRecordTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/model_record_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ModelRecordTest, FirstUseRecordsThenSameValuesAgree) {
  ModelConfig model;
  model.attribution_window_ms = 600'000;
  auto first = CheckOrRecordModel(dir_, model);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->empty());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/model.json"));
  auto again = CheckOrRecordModel(dir_, model);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->empty());
}

TEST_F(ModelRecordTest, StateShapingDifferencesAreReportedWithBothValues) {
  ModelConfig model;
  ASSERT_TRUE(CheckOrRecordModel(dir_, model).ok());
  ModelConfig other = model;
  other.attribution_window_ms = 600'000;
  other.half_lives_ms = {1000, 2000};
  other.prior_strength = 9;  // read-time: may change
  auto diff = CheckOrRecordModel(dir_, other);
  ASSERT_TRUE(diff.ok()) << diff.status();
  ASSERT_EQ(diff->size(), 2u);
  EXPECT_EQ((*diff)[0].field, "half_lives_ms");
  EXPECT_EQ((*diff)[0].recorded, "3600000,86400000,604800000,2592000000");
  EXPECT_EQ((*diff)[0].requested, "1000,2000");
  EXPECT_EQ((*diff)[1].field, "attribution_window_ms");
  EXPECT_EQ((*diff)[1].recorded, "1800000");
  EXPECT_EQ((*diff)[1].requested, "600000");
  // The record is not overwritten by a refused run.
  auto original = CheckOrRecordModel(dir_, model);
  ASSERT_TRUE(original.ok());
  EXPECT_TRUE(original->empty());
}

TEST_F(ModelRecordTest, UnparsableRecordIsDataLoss) {
  std::ofstream(dir_ + "/model.json") << "{not json";
  auto diff = CheckOrRecordModel(dir_, ModelConfig());
  EXPECT_EQ(diff.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace encore
