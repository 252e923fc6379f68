// The s3:// object store against a real S3-compatible server: S3Proxy,
// started by the ctest fixture `s3` (ops/s3/start.sh). Every test works
// under its own prefix, so the tests also pass against a server that is
// reused between runs.
#include "state/s3_object_store.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/file_util.h"
#include "tests/testing/s3_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

namespace fs = std::filesystem;
using ::encore::testing::HaveTestS3;
using ::encore::testing::IsOk;
using ::encore::testing::StatusIs;
using ::encore::testing::TempDir;
using ::encore::testing::TestS3Config;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 random(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(random());
  return s;
}

class S3ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTestS3()) {
      GTEST_SKIP() << "needs the S3 server of the ctest fixture "
                      "(ENCORE_TEST_S3_URI)";
    }
    store_ = Open();
  }

  // A store under a fresh prefix; `change` edits its configuration first.
  std::unique_ptr<ObjectStore> Open(
      const std::function<void(S3Config&)>& change = nullptr) {
    auto config = TestS3Config(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    EXPECT_THAT(config.status(), IsOk());
    if (!config.ok()) return nullptr;
    config_ = *config;
    if (change) change(*config);
    auto store = OpenS3ObjectStore(*config);
    EXPECT_THAT(store.status(), IsOk());
    return store.ok() ? std::move(*store) : nullptr;
  }

  S3Config config_;  // of the last Open
  std::unique_ptr<ObjectStore> store_;
  TempDir dir_;
};

TEST_F(S3ObjectStoreTest, PutGetExistsDelete) {
  EXPECT_THAT(store_->Get("a/b").status(),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(bool exists, store_->Exists("a/b"));
  EXPECT_FALSE(exists);
  ASSERT_OK(store_->Put("a/b", "one"));
  ASSERT_OK(store_->Put("a/b", "two"));
  ASSERT_OK_AND_ASSIGN(std::string got, store_->Get("a/b"));
  EXPECT_EQ(got, "two");
  ASSERT_OK_AND_ASSIGN(exists, store_->Exists("a/b"));
  EXPECT_TRUE(exists);
  ASSERT_OK_AND_ASSIGN(exists, store_->Exists("a"));  // a prefix, no object
  EXPECT_FALSE(exists);
  ASSERT_OK(store_->Delete("a/b"));
  ASSERT_OK(store_->Delete("a/b"));  // absent: still OK
  EXPECT_THAT(store_->Get("a/b").status(),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(S3ObjectStoreTest, EmptyAndBinaryObjects) {
  ASSERT_OK(store_->Put("empty", ""));
  ASSERT_OK_AND_ASSIGN(std::string got, store_->Get("empty"));
  EXPECT_EQ(got, "");
  const std::string binary = RandomBytes(100'000, 1);
  ASSERT_OK(store_->Put("binary", binary));
  ASSERT_OK_AND_ASSIGN(got, store_->Get("binary"));
  EXPECT_EQ(got, binary);
}

TEST_F(S3ObjectStoreTest, KeysNeedingEncoding) {
  // Every character the signature must see encoded as S3 does.
  const std::string key = "d/a b+c=d&e%f~g_h.i(j)k,l;m:n@o$p!q'r*s\xc3\xa9t";
  ASSERT_OK(store_->Put(key, "x"));
  ASSERT_OK_AND_ASSIGN(std::string got, store_->Get(key));
  EXPECT_EQ(got, "x");
  ASSERT_OK_AND_ASSIGN(auto entries, store_->List("d"));
  EXPECT_THAT(entries,
              ElementsAre(Field(&ObjectStore::Entry::name, key.substr(2))));
  ASSERT_OK(store_->Delete(key));
  ASSERT_OK_AND_ASSIGN(bool exists, store_->Exists(key));
  EXPECT_FALSE(exists);
}

TEST_F(S3ObjectStoreTest, PutFileAndGetFile) {
  // Larger than curl's 1 MB threshold for "Expect: 100-continue".
  const std::string contents = RandomBytes(3 << 20, 2);
  ASSERT_OK(WriteFileDurably(dir_.Sub("in"), contents));
  ASSERT_OK(store_->PutFile("files/big", dir_.Sub("in")));
  ASSERT_OK(store_->GetFile("files/big", dir_.Sub("out")));
  ASSERT_OK_AND_ASSIGN(std::string got, ReadFile(dir_.Sub("out")));
  EXPECT_TRUE(got == contents);

  ASSERT_OK(WriteFileDurably(dir_.Sub("empty"), ""));
  ASSERT_OK(store_->PutFile("files/empty", dir_.Sub("empty")));
  ASSERT_OK(store_->GetFile("files/empty", dir_.Sub("empty-out")));
  EXPECT_EQ(fs::file_size(dir_.Sub("empty-out")), 0u);
}

TEST_F(S3ObjectStoreTest, GetFileWritesOnlyANewFile) {
  ASSERT_OK(store_->Put("k", "new"));
  ASSERT_OK(WriteFileDurably(dir_.Sub("existing"), "old"));
  EXPECT_THAT(store_->GetFile("k", dir_.Sub("existing")), Not(IsOk()));
  ASSERT_OK_AND_ASSIGN(std::string kept, ReadFile(dir_.Sub("existing")));
  EXPECT_EQ(kept, "old");
  // A missing key leaves no file behind (not an error body in a file).
  EXPECT_THAT(store_->GetFile("missing", dir_.Sub("missing")),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(fs::exists(dir_.Sub("missing")));
}

TEST_F(S3ObjectStoreTest, PutFileOfAMissingFile) {
  EXPECT_THAT(store_->PutFile("k", dir_.Sub("nope")),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(bool exists, store_->Exists("k"));
  EXPECT_FALSE(exists);
}

TEST_F(S3ObjectStoreTest, PutIfAbsent) {
  ASSERT_OK(store_->PutIfAbsent("owners/1", "first"));
  EXPECT_THAT(store_->PutIfAbsent("owners/1", "second"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK_AND_ASSIGN(std::string got, store_->Get("owners/1"));
  EXPECT_EQ(got, "first");
  // Put still replaces.
  ASSERT_OK(store_->Put("owners/1", "third"));
  ASSERT_OK_AND_ASSIGN(got, store_->Get("owners/1"));
  EXPECT_EQ(got, "third");
}

TEST_F(S3ObjectStoreTest, PutIfAbsentRaceHasOneWinner) {
  constexpr int kRounds = 25;
  constexpr int kWriters = 4;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = absl::StrCat("race/", round);
    std::atomic<int> ready{0};
    std::vector<absl::Status> results(kWriters);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        ready.fetch_add(1);
        while (ready.load() < kWriters) {
        }
        results[w] = store_->PutIfAbsent(key, absl::StrCat("writer ", w));
      });
    }
    for (std::thread& t : writers) t.join();
    int winner = -1;
    for (int w = 0; w < kWriters; ++w) {
      if (results[w].ok()) {
        EXPECT_EQ(winner, -1) << "two winners in round " << round;
        winner = w;
      } else {
        EXPECT_THAT(results[w], StatusIs(absl::StatusCode::kAlreadyExists));
      }
    }
    ASSERT_NE(winner, -1) << "no winner in round " << round;
    ASSERT_OK_AND_ASSIGN(std::string got, store_->Get(key));
    EXPECT_EQ(got, absl::StrCat("writer ", winner));
  }
}

TEST_F(S3ObjectStoreTest, ListPaginatesAndSorts) {
  // Pages of 4: 13 objects and 2 prefixes take several.
  store_ = Open([](S3Config& c) { c.list_page_size = 4; });
  const int64_t before = NowMs();
  std::vector<std::string> want;
  for (int i = 12; i >= 0; --i) {
    const std::string name = absl::StrCat("o-", i < 10 ? "0" : "", i);
    ASSERT_OK(store_->Put("dir/" + name, "x"));
    want.push_back(name);
  }
  ASSERT_OK(store_->Put("dir/sub1/x", "x"));
  ASSERT_OK(store_->Put("dir/sub2/y/z", "x"));
  ASSERT_OK(store_->Put("dirty", "x"));  // shares the prefix "dir", not "dir/"
  const int64_t after = NowMs();
  want.push_back("sub1");
  want.push_back("sub2");
  std::sort(want.begin(), want.end());

  ASSERT_OK_AND_ASSIGN(std::vector<ObjectStore::Entry> entries,
                       store_->List("dir"));
  std::vector<std::string> names;
  for (const auto& e : entries) {
    names.push_back(e.name);
    if (absl::StartsWith(e.name, "sub")) {
      EXPECT_EQ(e.modified_ms, 0) << e.name;
    } else {
      // S3Proxy keeps whole seconds.
      EXPECT_GE(e.modified_ms, before - 1000) << e.name;
      EXPECT_LE(e.modified_ms, after + 1000) << e.name;
    }
  }
  EXPECT_EQ(names, want);

  ASSERT_OK_AND_ASSIGN(entries, store_->List("dir/sub2"));
  EXPECT_THAT(entries, ElementsAre(Field(&ObjectStore::Entry::name, "y")));
  ASSERT_OK_AND_ASSIGN(entries, store_->List("nothing/here"));
  EXPECT_TRUE(entries.empty());
  ASSERT_OK_AND_ASSIGN(entries, store_->List(""));  // the store's root
  names.clear();
  for (const auto& e : entries) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre("dir", "dirty"));
}

TEST_F(S3ObjectStoreTest, ListMoreThanAThousand) {
  // S3's own page limit, with the default page size; written 8 at a time.
  constexpr int kObjects = 1010;
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < kObjects; i += 8) {
        if (!store_->Put(absl::StrCat("many/", 10000 + i), "").ok()) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_OK_AND_ASSIGN(std::vector<ObjectStore::Entry> entries,
                       store_->List("many"));
  ASSERT_EQ(entries.size(), static_cast<size_t>(kObjects));
  EXPECT_EQ(entries.front().name, "10000");
  EXPECT_EQ(entries.back().name, absl::StrCat(10000 + kObjects - 1));
}

TEST_F(S3ObjectStoreTest, PrefixesAreSeparateStores) {
  auto other = Open();
  ASSERT_OK(store_->Put("k", "mine"));
  ASSERT_OK_AND_ASSIGN(bool exists, other->Exists("k"));
  EXPECT_FALSE(exists);
  ASSERT_OK_AND_ASSIGN(auto entries, other->List(""));
  EXPECT_TRUE(entries.empty());
}

TEST_F(S3ObjectStoreTest, DescribeIsTheUriWithoutCredentials) {
  const std::string described = store_->Describe();
  EXPECT_EQ(described, config_.Uri());
  EXPECT_TRUE(absl::StartsWith(described, "s3://"));
  EXPECT_THAT(described, Not(HasSubstr(config_.credentials.secret_access_key)));
}

TEST_F(S3ObjectStoreTest, WrongSecretIsPermissionDenied) {
  auto store = Open([](S3Config& c) {
    c.credentials.secret_access_key = "not-the-secret";
    c.max_attempts = 1;
  });
  ASSERT_NE(store, nullptr);
  const absl::Status put = store->Put("k", "v");
  EXPECT_THAT(put, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(put.message(), HasSubstr("SignatureDoesNotMatch"));
  EXPECT_THAT(put.message(), Not(HasSubstr("not-the-secret")));
  EXPECT_THAT(store->Get("k").status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(store->Exists("k").status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(store->List("").status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(store->PutIfAbsent("k", "v"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(S3ObjectStoreTest, MissingBucketIsNotFound) {
  auto store = Open([](S3Config& c) { c.bucket = "no-such-bucket-here"; });
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->List("").status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->Put("k", "v"), StatusIs(absl::StatusCode::kNotFound));
}

// A port on which nothing listens: bound, never listened on.
class ClosedPort {
 public:
  ClosedPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~ClosedPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(S3ObjectStoreTest, ServerDownIsUnavailableAfterBoundedRetries) {
  ClosedPort closed;
  auto store = Open([&](S3Config& c) {
    c.endpoint = absl::StrCat("http://127.0.0.1:", closed.port());
    c.max_attempts = 3;
    c.initial_backoff_ms = 20;
  });
  ASSERT_NE(store, nullptr);
  const auto start = std::chrono::steady_clock::now();
  const absl::Status put = store->Put("k", "v");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_THAT(put, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(put.message(), HasSubstr("3 tries"));
  // Backoff 10-20 ms, then 20-40 ms: well under a second.
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_THAT(store->Get("k").status(),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(store->Exists("k").status(),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(store->List("").status(),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(store->GetFile("k", dir_.Sub("out")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(fs::exists(dir_.Sub("out")));
}

// A server that answers every request alike ("HTTP/1.1 <status>" and
// `body`), counts them and keeps the last one's head.
class CannedServer {
 public:
  CannedServer(std::string status, std::string body)
      : status_(std::move(status)), body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~CannedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string endpoint() const {
    return absl::StrCat("http://127.0.0.1:", port_);
  }
  int requests() const { return requests_.load(); }
  std::string last_head() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_head_;
  }

 private:
  void Serve() {
    for (;;) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(c, buffer, sizeof(buffer));
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_head_ = request.substr(0, request.find("\r\n\r\n"));
      }
      requests_.fetch_add(1);
      const std::string response = absl::StrCat(
          "HTTP/1.1 ", status_, "\r\nContent-Length: ", body_.size(),
          "\r\nConnection: close\r\n\r\n", body_);
      (void)!::write(c, response.data(), response.size());
      ::close(c);
    }
  }

  const std::string status_;
  const std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::string last_head_;
  std::thread thread_;
};

TEST_F(S3ObjectStoreTest, ServerErrorsAreRetriedThenUnavailable) {
  CannedServer server("503 Slow Down",
                      "<Error><Code>SlowDown</Code><Message>Reduce your "
                      "request rate.</Message></Error>");
  auto store = Open([&](S3Config& c) {
    c.endpoint = server.endpoint();
    c.max_attempts = 4;
    c.initial_backoff_ms = 10;
  });
  ASSERT_NE(store, nullptr);
  const auto got = store->Get("k");
  EXPECT_THAT(got.status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(got.status().message(), HasSubstr("HTTP 503 SlowDown"));
  EXPECT_EQ(server.requests(), 4);
}

TEST_F(S3ObjectStoreTest, RedirectIsNotRetried) {
  // What S3 answers a request to the wrong region's endpoint.
  CannedServer server("301 Moved Permanently",
                      "<Error><Code>PermanentRedirect</Code><Message>The "
                      "bucket you are attempting to access must be addressed "
                      "using the specified endpoint.</Message></Error>");
  auto store = Open([&](S3Config& c) { c.endpoint = server.endpoint(); });
  ASSERT_NE(store, nullptr);
  const absl::Status put = store->Put("k", "v");
  EXPECT_THAT(put, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(put.message(), HasSubstr("PermanentRedirect"));
  EXPECT_EQ(server.requests(), 1);
}

TEST_F(S3ObjectStoreTest, RequestsAreSignedWithTheSessionToken) {
  CannedServer server("200 OK", "");
  auto store = Open([&](S3Config& c) {
    c.endpoint = server.endpoint();
    c.region = "eu-north-1";
    c.credentials = {"AKIDEXAMPLE", "the-secret", "the-token"};
  });
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Put("k", "v"));
  const std::string head = server.last_head();
  EXPECT_THAT(head, HasSubstr("x-amz-security-token: the-token"));
  EXPECT_THAT(head, HasSubstr("Authorization: AWS4-HMAC-SHA256 "
                              "Credential=AKIDEXAMPLE/"));
  EXPECT_THAT(head, HasSubstr("/eu-north-1/s3/aws4_request"));
  EXPECT_THAT(head, HasSubstr("x-amz-content-sha256;x-amz-date;"
                              "x-amz-security-token"));
  // The payload's hash, not UNSIGNED-PAYLOAD, for a body from memory.
  EXPECT_THAT(head, HasSubstr("x-amz-content-sha256: 4c94485e0c21ae6c41ce1df"
                              "e7b6bfaceea5ab68e40a2476f50208e526f506080"));
  EXPECT_THAT(head, Not(HasSubstr("the-secret")));

  ASSERT_OK(WriteFileDurably(dir_.Sub("f"), "v"));
  ASSERT_OK(store->PutFile("k", dir_.Sub("f")));
  EXPECT_THAT(server.last_head(),
              HasSubstr("x-amz-content-sha256: UNSIGNED-PAYLOAD"));
}

TEST_F(S3ObjectStoreTest, OpenObjectStoreReadsTheEnvironment) {
  const std::string uri = ::encore::testing::UniqueS3Uri("from-env");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ObjectStore> store,
                       OpenObjectStore(uri + "/"));
  EXPECT_EQ(store->Describe(), uri);
  ASSERT_OK(store->Put("x/y", "z"));
  ASSERT_OK_AND_ASSIGN(std::string got, store->Get("x/y"));
  EXPECT_EQ(got, "z");
}

}  // namespace
}  // namespace encore
