#include "state/key_codec.h"

#include "gtest/gtest.h"

namespace encore {
namespace {

TEST(KeyCodecTest, UserKeysRoundTripAndSortAfterMetadata) {
  EXPECT_EQ(UserKey("u42"), "Uu42");
  EXPECT_EQ(ParseUserKey(UserKey("u42")), "u42");
  EXPECT_EQ(ParseUserKey(UserKey("")), "");
  std::string binary("a\0b", 3);
  EXPECT_EQ(ParseUserKey(UserKey(binary)), binary);
  EXPECT_FALSE(ParseUserKey(kMetaKey).has_value());
  EXPECT_FALSE(ParseUserKey("").has_value());
  // Bytewise order: metadata first, then users in user_id order.
  EXPECT_LT(std::string(kMetaKey), UserKey(""));
  EXPECT_LT(UserKey("a"), UserKey("b"));
  EXPECT_LT(UserKey("a"), UserKey("aa"));
}

}  // namespace
}  // namespace encore
