#include "stream/gauge_share.h"

#include <memory>
#include <optional>

#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace encore {
namespace {

TEST(GaugeShareTest, TheGaugeIsTheSumOfTheSharesLastValues) {
  prometheus::Registry registry;
  prometheus::Gauge& gauge = prometheus::BuildGauge()
                                 .Name("encore_test_cached_users")
                                 .Help("test")
                                 .Register(registry)
                                 .Add({});
  gauge.Set(0);
  std::optional<GaugeShare> first(std::in_place, &gauge);
  GaugeShare second(&gauge);
  first->Show(3);
  second.Show(5);
  EXPECT_EQ(gauge.Value(), 8);
  first->Show(1);  // down by 2, the other share untouched
  EXPECT_EQ(gauge.Value(), 6);
  EXPECT_EQ(first->shown(), 1);
  first.reset();  // withdraws what it showed
  EXPECT_EQ(gauge.Value(), 5);
  second.Show(0);
  EXPECT_EQ(gauge.Value(), 0);
}

}  // namespace
}  // namespace encore
