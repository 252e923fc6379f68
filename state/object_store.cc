#include "state/object_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "state/file_util.h"
#include "state/s3_config.h"
#include "state/s3_object_store.h"
#include "state/status_macros.h"

namespace encore {
namespace {

// Copies the open file `in` to the new file `path` and fsyncs it.
absl::Status CopyToNewFile(int in, const std::string& from,
                           const std::string& path) {
  const int out =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) return ErrnoStatus("create " + path, errno);
  char buffer[1 << 16];
  absl::Status status;
  while (status.ok()) {
    const ssize_t n = ::read(in, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoStatus("read " + from, errno);
      break;
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w =
          ::write(out, buffer + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        status = ErrnoStatus("write " + path, errno);
        break;
      }
      done += w;
    }
  }
  if (status.ok() && ::fsync(out) != 0)
    status = ErrnoStatus("fsync " + path, errno);
  if (::close(out) != 0 && status.ok())
    status = ErrnoStatus("close " + path, errno);
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

// A directory tree: an object is a file, written to a unique temporary
// sibling, fsynced and renamed into place (then its directory fsynced), so
// readers and concurrent writers of one key never see a part.
class FileObjectStore final : public ObjectStore {
 public:
  explicit FileObjectStore(std::string root) : root_(std::move(root)) {}

  absl::StatusOr<bool> Exists(const std::string& key) override {
    std::error_code ec;
    const bool exists = std::filesystem::exists(Path(key), ec);
    if (ec)
      return absl::UnavailableError(
          absl::StrCat(Path(key), ": ", ec.message()));
    return exists;
  }

  absl::Status Put(const std::string& key,
                   const std::string& contents) override {
    const std::string path = Path(key);
    RETURN_IF_ERROR(MakeParent(path));
    const std::string tmp = TempSibling(path);
    absl::Status s = WriteFileDurably(tmp, contents);
    if (s.ok()) s = Publish(tmp, path);
    if (!s.ok()) ::unlink(tmp.c_str());
    return s;
  }

  absl::Status PutIfAbsent(const std::string& key,
                           const std::string& contents) override {
    const std::string path = Path(key);
    RETURN_IF_ERROR(MakeParent(path));
    const std::string tmp = TempSibling(path);
    RETURN_IF_ERROR(WriteFileDurably(tmp, contents));
    // link() fails if `path` exists: of racing writers exactly one wins.
    const int rc = ::link(tmp.c_str(), path.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0 && err == EEXIST) {
      return absl::AlreadyExistsError(path + " exists");
    }
    if (rc != 0) return ErrnoStatus("link " + path, err);
    return SyncDirectory(std::filesystem::path(path).parent_path().string());
  }

  absl::Status PutFile(const std::string& key,
                       const std::string& from) override {
    const std::string path = Path(key);
    RETURN_IF_ERROR(MakeParent(path));
    const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return ErrnoStatus("open " + from, errno);
    const std::string tmp = TempSibling(path);
    absl::Status s = CopyToNewFile(in, from, tmp);
    ::close(in);
    if (s.ok()) s = Publish(tmp, path);
    if (!s.ok()) ::unlink(tmp.c_str());
    return s;
  }

  absl::StatusOr<std::string> Get(const std::string& key) override {
    return ReadFile(Path(key));
  }

  absl::Status GetFile(const std::string& key,
                       const std::string& path) override {
    const std::string from = Path(key);
    const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return ErrnoStatus("open " + from, errno);
    absl::Status s = CopyToNewFile(in, from, path);
    ::close(in);
    return s;
  }

  absl::StatusOr<std::vector<Entry>> List(const std::string& prefix) override {
    std::vector<Entry> entries;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(Path(prefix), ec)) {
      const std::string name = entry.path().filename().string();
      if (name.find(".tmp-") != std::string::npos) continue;  // being written
      struct stat st;
      if (::stat(entry.path().c_str(), &st) != 0) continue;  // just removed
      entries.push_back({name, int64_t{st.st_mtim.tv_sec} * 1000 +
                                   st.st_mtim.tv_nsec / 1'000'000});
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return absl::UnavailableError(
          absl::StrCat("list ", Path(prefix), ": ", ec.message()));
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return entries;
  }

  absl::Status Delete(const std::string& key) override {
    if (::unlink(Path(key).c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus("remove " + Path(key), errno);
    }
    return absl::OkStatus();
  }

  std::string Describe() const override { return "file://" + root_; }

 private:
  std::string Path(const std::string& key) const {
    return absl::StrCat(root_, "/", key);
  }

  static absl::Status MakeParent(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(
        std::filesystem::path(path).parent_path(), ec);
    if (ec)
      return absl::UnavailableError(absl::StrCat(path, ": ", ec.message()));
    return absl::OkStatus();
  }

  // Unique across hosts sharing the filesystem (a random nonce drawn once
  // per process: pids repeat between hosts), processes and threads
  // (counter).
  static std::string TempSibling(const std::string& path) {
    static const uint64_t nonce =
        std::random_device()() ^ (uint64_t{std::random_device()()} << 32);
    static std::atomic<uint64_t> counter{0};
    return absl::StrCat(path, ".tmp-", absl::Hex(nonce), "-", ::getpid(), "-",
                        counter++);
  }

  static absl::Status Publish(const std::string& tmp, const std::string& path) {
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      return ErrnoStatus("rename " + tmp, errno);
    }
    return SyncDirectory(std::filesystem::path(path).parent_path().string());
  }

  const std::string root_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenObjectStore(
    const std::string& uri) {
  constexpr absl::string_view kFile = "file://";
  if (absl::StartsWith(uri, kFile)) {
    std::string root = uri.substr(kFile.size());
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    if (root.empty() || root[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint store '", uri, "': file:// needs an absolute path"));
    }
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("checkpoint store ", root, ": ", ec.message()));
    }
    return std::unique_ptr<ObjectStore>(new FileObjectStore(std::move(root)));
  }
  if (absl::StartsWith(uri, "s3://")) {
    absl::StatusOr<std::unique_ptr<ObjectStore>> store;
    auto config = S3ConfigFromUri(uri);
    if (config.ok()) {
      store = OpenS3ObjectStore(std::move(*config));
    } else {
      store = config.status();
    }
    if (!store.ok()) {
      return absl::Status(store.status().code(),
                          absl::StrCat("checkpoint store '", uri,
                                       "': ", store.status().message()));
    }
    return store;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("checkpoint store '", uri,
                   "': expected file:///path or s3://bucket/prefix"));
}

}  // namespace encore
