#include "state/s3_object_store.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "state/file_util.h"
#include "state/s3_xml.h"

namespace encore {
namespace {

// SHA-256 of the empty string: the payload hash of a request without one.
constexpr char kEmptySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// An error answer's body is kept only this far (for its Code and Message).
constexpr size_t kMaxErrorBody = 64 << 10;

std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 0xf]);
  }
  return hex;
}

// S3's URI encoding (as SigV4 canonicalises it): every byte but the
// unreserved ones as %XX, and '/' too unless `keep_slash`. libcurl 7.88
// signs the path and query exactly as given, so they are built canonical.
std::string UriEncode(absl::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

bool TransientCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

class S3ObjectStore final : public ObjectStore {
 public:
  explicit S3ObjectStore(S3Config config)
      : config_(std::move(config)),
        sigv4_(absl::StrCat("aws:amz:", config_.region, ":s3")) {}

  ~S3ObjectStore() override {
    for (CURL* curl : idle_) curl_easy_cleanup(curl);
  }

  absl::StatusOr<bool> Exists(const std::string& key) override {
    Request request{"HEAD", Key(key)};
    auto response = Perform(request);
    if (!response.ok()) return response.status();
    if (response->http == 404) return false;
    if (!Success(*response)) return HttpError(request, *response);
    return true;
  }

  absl::Status Put(const std::string& key,
                   const std::string& contents) override {
    Request request{"PUT", Key(key)};
    request.body = &contents;
    return Expect2xx(request);
  }

  absl::Status PutIfAbsent(const std::string& key,
                           const std::string& contents) override {
    Request request{"PUT", Key(key)};
    request.body = &contents;
    request.headers.push_back("If-None-Match: *");
    auto response = Perform(request);
    if (!response.ok()) return response.status();
    if (Success(*response)) return absl::OkStatus();
    if (response->http != 412 && response->http != 409) {
      return HttpError(request, *response);
    }
    if (response->earlier_try_may_have_applied) {
      // The key may be there because our own earlier try created it.
      auto stored = Get(key);
      if (stored.ok() && *stored == contents) return absl::OkStatus();
    }
    return absl::AlreadyExistsError(absl::StrCat(Uri(request.key), " exists"));
  }

  absl::Status PutFile(const std::string& key,
                       const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open " + path, errno);
    struct stat st;
    absl::Status status;
    if (::fstat(fd, &st) != 0) {
      status = ErrnoStatus("stat " + path, errno);
    } else {
      Request request{"PUT", Key(key)};
      request.body_fd = fd;
      request.body_path = path;
      request.body_size = st.st_size;
      status = Expect2xx(request);
    }
    ::close(fd);
    return status;
  }

  absl::StatusOr<std::string> Get(const std::string& key) override {
    Request request{"GET", Key(key)};
    auto response = Perform(request);
    if (!response.ok()) return response.status();
    if (!Success(*response)) return HttpError(request, *response);
    return std::move(response->body);
  }

  absl::Status GetFile(const std::string& key,
                       const std::string& path) override {
    const int fd =
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("create " + path, errno);
    Request request{"GET", Key(key)};
    request.out_fd = fd;
    request.out_path = path;
    absl::Status status = Expect2xx(request);
    if (status.ok() && ::fsync(fd) != 0) {
      status = ErrnoStatus("fsync " + path, errno);
    }
    if (::close(fd) != 0 && status.ok()) {
      status = ErrnoStatus("close " + path, errno);
    }
    if (!status.ok()) ::unlink(path.c_str());
    return status;
  }

  absl::StatusOr<std::vector<Entry>> List(const std::string& prefix) override {
    std::string dir = Key(prefix);
    if (!dir.empty()) dir += "/";
    std::vector<Entry> entries;
    std::string token;
    do {
      // Parameters sorted by name, values encoded: the canonical query.
      Request request{"GET", ""};
      request.query = absl::StrCat(
          token.empty()
              ? ""
              : absl::StrCat("continuation-token=", UriEncode(token, false),
                             "&"),
          "delimiter=%2F&list-type=2&max-keys=", config_.list_page_size,
          "&prefix=", UriEncode(dir, false));
      auto response = Perform(request);
      if (!response.ok()) return response.status();
      if (!Success(*response)) return HttpError(request, *response);
      auto page = ParseS3ListPage(response->body);
      if (!page.ok()) {
        return absl::Status(
            page.status().code(),
            absl::StrCat(Uri(dir), ": ", page.status().message()));
      }
      for (S3ListPage::Object& object : page->objects) {
        // An object named like the prefix itself (a "folder" marker some
        // tools create) is not under it.
        if (object.key.size() <= dir.size() ||
            object.key.compare(0, dir.size(), dir) != 0) {
          continue;
        }
        entries.push_back({object.key.substr(dir.size()), object.modified_ms});
      }
      for (const std::string& common : page->common_prefixes) {
        if (common.size() <= dir.size() + 1 ||
            common.compare(0, dir.size(), dir) != 0) {
          continue;
        }
        entries.push_back(
            {common.substr(dir.size(), common.size() - dir.size() - 1), 0});
      }
      token = page->truncated ? page->next_continuation_token : "";
    } while (!token.empty());
    // An object "x" beside objects under "x/" is listed once, as the object.
    std::stable_sort(
        entries.begin(), entries.end(),
        [](const Entry& a, const Entry& b) { return a.name < b.name; });
    entries.erase(std::unique(entries.begin(), entries.end(),
                              [](const Entry& a, const Entry& b) {
                                return a.name == b.name;
                              }),
                  entries.end());
    return entries;
  }

  absl::Status Delete(const std::string& key) override {
    Request request{"DELETE", Key(key)};
    auto response = Perform(request);
    if (!response.ok()) return response.status();
    if (Success(*response) || response->http == 404) return absl::OkStatus();
    return HttpError(request, *response);
  }

  std::string Describe() const override { return config_.Uri(); }

 private:
  struct Request {
    std::string method;  // GET, HEAD, PUT or DELETE
    std::string key;     // in the bucket (prefix included); empty: the bucket
    std::string query = "";                 // canonical, without '?'
    std::vector<std::string> headers = {};  // extra request headers
    // PUT's body: `body` if set, else `body_size` bytes of `body_fd`.
    const std::string* body = nullptr;
    int body_fd = -1;
    std::string body_path = "";
    int64_t body_size = 0;
    // A successful GET's body goes to `out_fd` if set, else to the
    // response.
    int out_fd = -1;
    std::string out_path = "";
  };

  struct Response {
    long http = 0;
    std::string body;  // a success's body (unless out_fd) or an error's
    // A try before this one failed in a way that may have been applied.
    bool earlier_try_may_have_applied = false;
  };

  // One try's state, shared with curl's callbacks.
  struct Transfer {
    CURL* curl;
    const Request* request;
    Response* response;
    size_t body_offset = 0;                 // of the PUT body sent so far
    absl::Status local = absl::OkStatus();  // a local read or write failure
  };

  static bool Success(const Response& r) { return r.http / 100 == 2; }

  std::string Key(const std::string& key) const {
    if (config_.prefix.empty()) return key;
    if (key.empty()) return config_.prefix;
    return absl::StrCat(config_.prefix, "/", key);
  }

  std::string Uri(const std::string& key) const {
    return absl::StrCat("s3://", config_.bucket, "/", key);
  }

  absl::Status Expect2xx(const Request& request) {
    auto response = Perform(request);
    if (!response.ok()) return response.status();
    if (!Success(*response)) return HttpError(request, *response);
    return absl::OkStatus();
  }

  // The final answer of `request`, tried again with backoff while it
  // fails transiently. Unavailable once every try failed so; another
  // non-OK status for a local failure (reading the body's file, writing
  // the output file). An HTTP error answer is a Response, not an error.
  absl::StatusOr<Response> Perform(const Request& request) {
    bool may_have_applied = false;
    for (int attempt = 1;; ++attempt) {
      Response response;
      response.earlier_try_may_have_applied = may_have_applied;
      CURLcode code = CURLE_OK;
      absl::Status local = PerformOnce(request, &response, &code);
      if (!local.ok()) return local;
      std::string failure;
      if (code != CURLE_OK) {
        if (!TransientCurlError(code)) {
          return absl::InternalError(absl::StrCat(request.method, " ",
                                                  Uri(request.key), ": ",
                                                  curl_easy_strerror(code)));
        }
        failure = curl_easy_strerror(code);
      } else if (Transient(response)) {
        failure = Explain(response);
      } else {
        return response;
      }
      if (code != CURLE_COULDNT_CONNECT && code != CURLE_COULDNT_RESOLVE_HOST &&
          code != CURLE_COULDNT_RESOLVE_PROXY) {
        may_have_applied = true;
      }
      if (attempt >= config_.max_attempts) {
        return absl::UnavailableError(absl::StrCat(
            request.method, " ", Uri(request.key), " (", config_.endpoint,
            "): ", failure, " (", attempt, attempt == 1 ? " try)" : " tries)"));
      }
      std::this_thread::sleep_for(Backoff(attempt));
    }
  }

  static bool Transient(const Response& r) {
    if (r.http >= 500 || r.http == 429) return true;
    // S3's "your socket was not read from in time" is a 400.
    return r.http == 400 && ParseS3Error(r.body).code == "RequestTimeout";
  }

  std::chrono::milliseconds Backoff(int attempt) const {
    thread_local std::minstd_rand random(std::random_device{}());
    const int64_t base = int64_t{config_.initial_backoff_ms}
                         << std::min(attempt - 1, 10);
    const int64_t capped = std::min<int64_t>(base, 10'000);
    std::uniform_int_distribution<int64_t> jitter(capped / 2, capped);
    return std::chrono::milliseconds(jitter(random));
  }

  static std::string Explain(const Response& r) {
    const S3Error error = ParseS3Error(r.body);
    std::string s = absl::StrCat("HTTP ", r.http);
    if (!error.code.empty()) absl::StrAppend(&s, " ", error.code);
    if (!error.message.empty()) absl::StrAppend(&s, ": ", error.message);
    return s;
  }

  absl::Status HttpError(const Request& request, const Response& r) const {
    const std::string what = absl::StrCat(request.method, " ", Uri(request.key),
                                          request.query.empty() ? "" : "?",
                                          request.query, ": ", Explain(r));
    switch (r.http) {
      case 404:
        return absl::NotFoundError(what);
      case 401:
      case 403:
        return absl::PermissionDeniedError(what);
      case 409:
      case 412:
        return absl::FailedPreconditionError(what);
      default:
        if (r.http >= 500 || r.http == 429) return absl::UnavailableError(what);
        // 3xx: S3 redirects a request sent to another region's endpoint.
        if (r.http >= 300 && r.http < 400) {
          return absl::FailedPreconditionError(
              absl::StrCat(what, " (check the endpoint and AWS_REGION)"));
        }
        if (r.http >= 400) return absl::InvalidArgumentError(what);
        return absl::UnknownError(what);
    }
  }

  // One try of `request`. Sets *code to curl's result and fills *response;
  // returns non-OK only for a local failure.
  absl::Status PerformOnce(const Request& request, Response* response,
                           CURLcode* code) {
    if (request.out_fd >= 0) {
      // A retry starts the output file afresh.
      if (::ftruncate(request.out_fd, 0) != 0 ||
          ::lseek(request.out_fd, 0, SEEK_SET) != 0) {
        return ErrnoStatus("truncate " + request.out_path, errno);
      }
    }
    CURL* curl = AcquireHandle();
    Transfer transfer{curl, &request, response};

    std::string url = absl::StrCat(config_.endpoint, "/", config_.bucket);
    if (!request.key.empty()) {
      absl::StrAppend(&url, "/", UriEncode(request.key, true));
    }
    if (!request.query.empty()) absl::StrAppend(&url, "?", request.query);

    std::string payload_hash = kEmptySha256;
    if (request.method == "PUT") {
      payload_hash = request.body != nullptr ? Sha256Hex(*request.body)
                                             : "UNSIGNED-PAYLOAD";
    }
    struct curl_slist* headers = nullptr;
    auto add_header = [&headers](const std::string& h) {
      headers = curl_slist_append(headers, h.c_str());
    };
    // libcurl 7.88 adds no x-amz-content-sha256 (S3 requires one) but
    // signs the one given here as the payload hash.
    add_header("x-amz-content-sha256: " + payload_hash);
    if (!config_.credentials.session_token.empty()) {
      add_header("x-amz-security-token: " + config_.credentials.session_token);
    }
    for (const std::string& h : request.headers) add_header(h);

    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);  // keys keep "." and ".."
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "encore");
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME,
                     config_.credentials.access_key_id.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD,
                     config_.credentials.secret_access_key.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(config_.connect_timeout_ms));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(
        curl, CURLOPT_LOW_SPEED_TIME,
        static_cast<long>(std::max(1, config_.stall_timeout_ms / 1000)));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &S3ObjectStore::OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    if (request.method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, &S3ObjectStore::OnRead);
      curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
      curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &S3ObjectStore::OnSeek);
      curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
      curl_easy_setopt(
          curl, CURLOPT_INFILESIZE_LARGE,
          static_cast<curl_off_t>(request.body != nullptr ? request.body->size()
                                                          : request.body_size));
    } else if (request.method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    *code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->http);
    curl_slist_free_all(headers);
    ReleaseHandle(curl);
    return transfer.local;
  }

  // CURLOPT_WRITEFUNCTION: a success's body to the output file or the
  // response, an error's (bounded) to the response.
  static size_t OnBody(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t bytes = size * n;
    long http = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &http);
    if (http / 100 == 2 && t->request->out_fd >= 0) {
      for (size_t done = 0; done < bytes;) {
        const ssize_t w =
            ::write(t->request->out_fd, data + done, bytes - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          t->local = ErrnoStatus("write " + t->request->out_path, errno);
          return 0;  // aborts the transfer
        }
        done += static_cast<size_t>(w);
      }
      return bytes;
    }
    if (http / 100 != 2 && t->response->body.size() >= kMaxErrorBody) {
      return bytes;
    }
    t->response->body.append(data, bytes);
    return bytes;
  }

  // CURLOPT_READFUNCTION: the PUT body, from memory or the file.
  static size_t OnRead(char* buffer, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t room = size * n;
    if (t->request->body != nullptr) {
      const std::string& body = *t->request->body;
      const size_t bytes = std::min(room, body.size() - t->body_offset);
      std::copy_n(body.data() + t->body_offset, bytes, buffer);
      t->body_offset += bytes;
      return bytes;
    }
    for (;;) {
      const ssize_t r = ::pread(t->request->body_fd, buffer, room,
                                static_cast<off_t>(t->body_offset));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        t->local = ErrnoStatus("read " + t->request->body_path, errno);
        return CURL_READFUNC_ABORT;
      }
      t->body_offset += static_cast<size_t>(r);
      return static_cast<size_t>(r);
    }
  }

  // CURLOPT_SEEKFUNCTION: curl rewinds the body to send it again.
  static int OnSeek(void* user, curl_off_t offset, int origin) {
    auto* t = static_cast<Transfer*>(user);
    if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
    t->body_offset = static_cast<size_t>(offset);
    return CURL_SEEKFUNC_OK;
  }

  CURL* AcquireHandle() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        CURL* curl = idle_.back();
        idle_.pop_back();
        return curl;
      }
    }
    return curl_easy_init();
  }

  // Keeps the handle (and its open connection) for a later call.
  void ReleaseHandle(CURL* curl) {
    curl_easy_reset(curl);
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(curl);
  }

  const S3Config config_;
  const std::string sigv4_;  // CURLOPT_AWS_SIGV4's provider:region:service
  std::mutex mu_;
  std::vector<CURL*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenS3ObjectStore(
    S3Config config) {
  if (config.bucket.empty() || config.endpoint.empty() ||
      config.region.empty() || config.credentials.access_key_id.empty() ||
      config.credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 object store ", config.Uri(),
                     ": needs a bucket, endpoint, region and credentials"));
  }
  if (config.max_attempts < 1 || config.list_page_size < 1 ||
      config.list_page_size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 object store ", config.Uri(),
                     ": max_attempts >= 1 and list_page_size in [1, 1000]"));
  }
  InitCurlOnce();
  return std::unique_ptr<ObjectStore>(new S3ObjectStore(std::move(config)));
}

}  // namespace encore
