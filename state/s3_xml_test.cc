#include "state/s3_xml.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace encore {
namespace {

using ::encore::testing::StatusIs;

TEST(S3XmlTest, ListPage) {
  // As S3 answers: a namespace, milliseconds, an escaped key.
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>
  <Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>
  <Contents><Key>p/a&amp;b</Key><LastModified>2024-01-02T03:04:05.678Z</LastModified>
    <ETag>"x"</ETag><Size>1</Size></Contents>
  <Contents><Key><![CDATA[p/<c>]]></Key><LastModified>1970-01-01T00:00:01Z</LastModified></Contents>
  <CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes>
  <NextContinuationToken>tok/en+=</NextContinuationToken>
</ListBucketResult>)";
  ASSERT_OK_AND_ASSIGN(S3ListPage page, ParseS3ListPage(xml));
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].key, "p/a&b");
  EXPECT_EQ(page.objects[0].modified_ms, 1704164645678);
  EXPECT_EQ(page.objects[1].key, "p/<c>");
  EXPECT_EQ(page.objects[1].modified_ms, 1000);
  EXPECT_THAT(page.common_prefixes, ::testing::ElementsAre("p/d/"));
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_continuation_token, "tok/en+=");
}

TEST(S3XmlTest, EmptyLastPage) {
  ASSERT_OK_AND_ASSIGN(
      S3ListPage page,
      ParseS3ListPage("<ListBucketResult><IsTruncated>false</IsTruncated>"
                      "</ListBucketResult>"));
  EXPECT_TRUE(page.objects.empty());
  EXPECT_FALSE(page.truncated);
}

TEST(S3XmlTest, RefusesWhatIsNotAListPage) {
  for (const char* xml :
       {"", "<ListBucketResult>", "<html>oops</html>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><LastModified>yesterday"
        "</LastModified></Contents></ListBucketResult>"}) {
    EXPECT_THAT(ParseS3ListPage(xml).status(),
                StatusIs(absl::StatusCode::kDataLoss))
        << xml;
  }
}

TEST(S3XmlTest, Error) {
  S3Error e = ParseS3Error(
      "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code>"
      "<Message>The specified key does not exist.</Message>"
      "<RequestId>1</RequestId></Error>");
  EXPECT_EQ(e.code, "NoSuchKey");
  EXPECT_EQ(e.message, "The specified key does not exist.");
  e = ParseS3Error("");
  EXPECT_EQ(e.code, "");
  e = ParseS3Error("<html><body>502 Bad Gateway</body></html>");
  EXPECT_EQ(e.code, "");
}

}  // namespace
}  // namespace encore
