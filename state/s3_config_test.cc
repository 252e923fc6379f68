#include "state/s3_config.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;
using ::encore::testing::StatusIs;
using ::encore::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// An environment of exactly `vars`.
EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const std::map<std::string, std::string> kKeys = {
    {"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "s3cret"}};

std::map<std::string, std::string> With(
    std::map<std::string, std::string> vars) {
  vars.insert(kKeys.begin(), kKeys.end());
  return vars;
}

TEST(S3ConfigTest, BucketAndPrefix) {
  ASSERT_OK_AND_ASSIGN(S3Config c,
                       S3ConfigFromUri("s3://bucket/a/b/", Env(kKeys)));
  EXPECT_EQ(c.bucket, "bucket");
  EXPECT_EQ(c.prefix, "a/b");
  EXPECT_EQ(c.Uri(), "s3://bucket/a/b");
  ASSERT_OK_AND_ASSIGN(c, S3ConfigFromUri("s3://bucket", Env(kKeys)));
  EXPECT_EQ(c.prefix, "");
  EXPECT_EQ(c.Uri(), "s3://bucket");
  ASSERT_OK_AND_ASSIGN(c, S3ConfigFromUri("s3://bucket//p//", Env(kKeys)));
  EXPECT_EQ(c.prefix, "p");
}

TEST(S3ConfigTest, MalformedUris) {
  for (const char* uri : {"s3://", "s3:///prefix", "s3://bad bucket/p",
                          "s3://a?b/p", "file:///x", "S3://bucket"}) {
    EXPECT_THAT(S3ConfigFromUri(uri, Env(kKeys)).status(),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << uri;
  }
}

TEST(S3ConfigTest, DefaultsToAwsInUsEast1) {
  ASSERT_OK_AND_ASSIGN(S3Config c, S3ConfigFromUri("s3://b/p", Env(kKeys)));
  EXPECT_EQ(c.region, "us-east-1");
  EXPECT_EQ(c.endpoint, "https://s3.us-east-1.amazonaws.com");
  EXPECT_EQ(c.credentials.access_key_id, "AKID");
  EXPECT_EQ(c.credentials.secret_access_key, "s3cret");
  EXPECT_EQ(c.credentials.session_token, "");
}

TEST(S3ConfigTest, RegionAndEndpointPrecedence) {
  ASSERT_OK_AND_ASSIGN(
      S3Config c,
      S3ConfigFromUri("s3://b",
                      Env(With({{"AWS_DEFAULT_REGION", "eu-west-1"}}))));
  EXPECT_EQ(c.region, "eu-west-1");
  EXPECT_EQ(c.endpoint, "https://s3.eu-west-1.amazonaws.com");
  ASSERT_OK_AND_ASSIGN(
      c,
      S3ConfigFromUri(
          "s3://b", Env(With({{"AWS_DEFAULT_REGION", "x"},
                              {"AWS_REGION", "eu-north-1"},
                              {"AWS_ENDPOINT_URL", "http://generic:9000/"}}))));
  EXPECT_EQ(c.region, "eu-north-1");
  EXPECT_EQ(c.endpoint, "http://generic:9000");
  ASSERT_OK_AND_ASSIGN(
      c, S3ConfigFromUri(
             "s3://b",
             Env(With({{"AWS_ENDPOINT_URL", "http://generic:9000"},
                       {"AWS_ENDPOINT_URL_S3", "https://s3.example:8443"}}))));
  EXPECT_EQ(c.endpoint, "https://s3.example:8443");
  // Empty counts as unset.
  ASSERT_OK_AND_ASSIGN(
      c, S3ConfigFromUri("s3://b", Env(With({{"AWS_REGION", ""},
                                             {"AWS_ENDPOINT_URL_S3", ""}}))));
  EXPECT_EQ(c.region, "us-east-1");
}

TEST(S3ConfigTest, BadEndpoints) {
  for (const char* endpoint :
       {"s3.example:9000", "ftp://h", "http://", "http://h/path",
        "http://user:pass@h", "http://h?x"}) {
    auto c =
        S3ConfigFromUri("s3://b", Env(With({{"AWS_ENDPOINT_URL", endpoint}})));
    EXPECT_THAT(c.status(), StatusIs(absl::StatusCode::kInvalidArgument))
        << endpoint;
    EXPECT_THAT(c.status().message(), Not(HasSubstr("pass"))) << endpoint;
  }
}

TEST(S3ConfigTest, SessionTokenFromEnvironment) {
  ASSERT_OK_AND_ASSIGN(
      S3Config c,
      S3ConfigFromUri("s3://b", Env(With({{"AWS_SESSION_TOKEN", "tok"}}))));
  EXPECT_EQ(c.credentials.session_token, "tok");
}

TEST(S3ConfigTest, HalfTheKeysIsAnError) {
  EXPECT_THAT(
      S3ConfigFromUri("s3://b", Env({{"AWS_ACCESS_KEY_ID", "AKID"}})).status(),
      StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(S3ConfigTest, NoCredentialsAnywhere) {
  TempDir home;
  auto c = S3ConfigFromUri("s3://b", Env({{"HOME", home.path()}}));
  EXPECT_THAT(c.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(c.status().message(), HasSubstr("AWS_ACCESS_KEY_ID"));
  EXPECT_THAT(S3ConfigFromUri("s3://b", Env({})).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

class CredentialsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.Sub("credentials"))
        << "# comment\n"
           "[default]\n"
           "aws_access_key_id = DEFAULTID\n"
           "aws_secret_access_key=defaultsecret\n"
           "\n"
           "; another comment\n"
           "[ci]\n"
           "  AWS_ACCESS_KEY_ID = CIID  \n"
           "aws_secret_access_key = ci=secret\n"
           "aws_session_token = citoken\n"
           "[broken]\n"
           "aws_access_key_id = ONLYID\n";
  }
  TempDir dir_;
};

TEST_F(CredentialsFileTest, DefaultProfileFromHome) {
  TempDir home;
  std::filesystem::create_directories(home.Sub(".aws"));
  std::filesystem::copy_file(dir_.Sub("credentials"),
                             home.Sub(".aws/credentials"));
  ASSERT_OK_AND_ASSIGN(S3Config c,
                       S3ConfigFromUri("s3://b", Env({{"HOME", home.path()}})));
  EXPECT_EQ(c.credentials.access_key_id, "DEFAULTID");
  EXPECT_EQ(c.credentials.secret_access_key, "defaultsecret");
  EXPECT_EQ(c.credentials.session_token, "");
}

TEST_F(CredentialsFileTest, NamedProfileFromExplicitFile) {
  ASSERT_OK_AND_ASSIGN(
      S3Config c, S3ConfigFromUri("s3://b", Env({{"AWS_SHARED_CREDENTIALS_FILE",
                                                  dir_.Sub("credentials")},
                                                 {"AWS_PROFILE", "ci"}})));
  EXPECT_EQ(c.credentials.access_key_id, "CIID");
  EXPECT_EQ(c.credentials.secret_access_key, "ci=secret");
  EXPECT_EQ(c.credentials.session_token, "citoken");
}

TEST_F(CredentialsFileTest, EnvironmentKeysWin) {
  ASSERT_OK_AND_ASSIGN(
      S3Config c,
      S3ConfigFromUri("s3://b", Env(With({{"AWS_SHARED_CREDENTIALS_FILE",
                                           dir_.Sub("credentials")}}))));
  EXPECT_EQ(c.credentials.access_key_id, "AKID");
}

TEST_F(CredentialsFileTest, MissingOrIncompleteProfile) {
  const std::string file = dir_.Sub("credentials");
  auto c = S3ConfigFromUri("s3://b", Env({{"AWS_SHARED_CREDENTIALS_FILE", file},
                                          {"AWS_PROFILE", "nope"}}));
  EXPECT_THAT(c.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(c.status().message(), HasSubstr("[nope]"));
  c = S3ConfigFromUri("s3://b", Env({{"AWS_SHARED_CREDENTIALS_FILE", file},
                                     {"AWS_PROFILE", "broken"}}));
  EXPECT_THAT(c.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  c = S3ConfigFromUri(
      "s3://b", Env({{"AWS_SHARED_CREDENTIALS_FILE", dir_.Sub("missing")}}));
  EXPECT_THAT(c.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(c.status().message(), HasSubstr("missing"));
}

}  // namespace
}  // namespace encore
