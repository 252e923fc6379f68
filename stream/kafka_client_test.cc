#include "stream/kafka_client.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;
using ::encore::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(KafkaClientTest, SecretPropertiesAreRecognisedAndMasked) {
  for (const char* secret :
       {"sasl.password", "ssl.key.password", "ssl.keystore.password",
        "sasl.oauthbearer.client.secret", "sasl.jaas.config", "ssl.key.pem",
        "SASL.PASSWORD"}) {
    EXPECT_TRUE(IsSecretProperty(secret)) << secret;
  }
  for (const char* plain :
       {"security.protocol", "sasl.mechanism", "sasl.username", "client.id",
        "group.instance.id"}) {
    EXPECT_FALSE(IsSecretProperty(plain)) << plain;
  }
  const std::string masked = MaskedProperties(
      {{"sasl.password", "hunter2"}, {"security.protocol", "SASL_SSL"}});
  EXPECT_EQ(masked, "sasl.password=****** security.protocol=SASL_SSL");
  EXPECT_THAT(masked, Not(HasSubstr("hunter2")));
}

TEST(KafkaClientTest, ParsesKeyValuePairs) {
  std::map<std::string, std::string> props;
  ASSERT_THAT(ParseKafkaProperties({"a=1", "b=x=y", "c="}, &props), IsOk());
  EXPECT_EQ(props.at("a"), "1");
  EXPECT_EQ(props.at("b"), "x=y");
  EXPECT_EQ(props.at("c"), "");
  EXPECT_THAT(ParseKafkaProperties({"novalue"}, &props),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseKafkaProperties({"=x"}, &props),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KafkaClientTest, ReadsPropertiesFiles) {
  testing::TempDir dir;
  const std::string path = dir.Sub("kafka.properties");
  std::ofstream(path) << "# comment\n! also a comment\n\n"
                      << "security.protocol = SASL_SSL\n"
                      << "sasl.jaas.config=a b=c, d\n";
  std::map<std::string, std::string> props;
  ASSERT_THAT(ReadPropertiesFile(path, &props), IsOk());
  EXPECT_EQ(props.size(), 2u);
  EXPECT_EQ(props.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(props.at("sasl.jaas.config"), "a b=c, d");
  std::ofstream(dir.Sub("bad")) << "ok=1\nbroken line\n";
  absl::Status bad = ReadPropertiesFile(dir.Sub("bad"), &props);
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(bad.message()), HasSubstr(":2:"));
  EXPECT_THAT(ReadPropertiesFile(dir.Sub("missing"), &props),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KafkaClientTest, BuildConfRejectsUnknownPropertiesWithoutEchoingValues) {
  KafkaClientConfig config{"127.0.0.1:1", {{"no.such.property", "s3cret"}}};
  auto conf = BuildKafkaConf(config, {});
  EXPECT_THAT(conf, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(conf.status().message()), Not(HasSubstr("s3cret")));
  auto ok = BuildKafkaConf({"127.0.0.1:1", {{"client.id", "x"}}}, {});
  ASSERT_THAT(ok, IsOk());
  rd_kafka_conf_destroy(*ok);
}

TEST(KafkaClientTest, ErrorsMapToStatusCodes) {
  EXPECT_TRUE(FromKafka(RD_KAFKA_RESP_ERR_NO_ERROR, "x").ok());
  EXPECT_TRUE(
      absl::IsUnavailable(FromKafka(RD_KAFKA_RESP_ERR__TRANSPORT, "x")));
  EXPECT_TRUE(
      absl::IsNotFound(FromKafka(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, "x")));
  EXPECT_TRUE(absl::IsPermissionDenied(
      FromKafka(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, "x")));
  EXPECT_THAT(
      std::string(FromKafka(RD_KAFKA_RESP_ERR__TRANSPORT, "fetch").message()),
      HasSubstr("fetch: "));
}

// The creation of a topic, waiting for a broker that never answers, ends
// as soon as a stop is requested (a SIGTERM during start-up): with a
// ten-minute timeout only the stop can end it before the test's own.
TEST(KafkaClientTest, CreateTopicEndsOnAStopRequest) {
  auto admin = NewAdminClient({"127.0.0.1:1", {}});
  ASSERT_THAT(admin, IsOk());
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.store(true);
  });
  absl::Status s = CreateTopic(admin->get(), "t", 1, 1, 600'000, &stop);
  stopper.join();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kCancelled));
}

// When no broker answers, the error says what the connection attempts met.
TEST(KafkaClientTest, NoBrokerErrorsGiveTheReason) {
  auto admin = NewAdminClient({"127.0.0.1:1", {}});
  ASSERT_THAT(admin, IsOk());
  auto partitions = TopicPartitions(admin->get(), "t", 1000);
  EXPECT_THAT(partitions, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(partitions.status().message()),
              HasSubstr("Connect to ipv4#127.0.0.1:1 failed: Connection "
                        "refused"));
  EXPECT_THAT(LastBrokerError(admin->get()), HasSubstr("Connection refused"));
}

}  // namespace
}  // namespace encore
