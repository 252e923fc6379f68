#include "state/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace encore {
namespace {

std::string HostName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) return "?";
  return host;
}

// What the holder wrote: "pid P on host H (since T)", or a placeholder if
// it has not written it yet (it writes right after locking).
std::string Holder(int fd) {
  char buf[512];
  const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "another process (which has not written its pid yet)";
  return std::string(absl::StripAsciiWhitespace(absl::string_view(buf, n)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DirLock>> DirLock::Acquire(
    const std::string& dir, const std::string& what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("create ", what, " ", dir, ": ", ec.message()));
  }
  const std::string path = absl::StrCat(dir, "/", kLockFile);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder = Holder(fd);
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " ", dir, " is in use by ", holder,
          ": one encore process per directory (stop it, or use another "
          "directory)"));
    }
    return absl::UnavailableError(
        absl::StrCat("lock ", path, ": ", std::strerror(err)));
  }
  // Ours: say who holds it, for the next one that tries.
  const std::string holder = absl::StrCat(
      "pid ", getpid(), " on host ", HostName(), " (since ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()),
      ")\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, holder.data(), holder.size(), 0) !=
                                   static_cast<ssize_t>(holder.size())) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("write ", path, ": ", std::strerror(err)));
  }
  return std::unique_ptr<DirLock>(new DirLock(dir, fd));
}

DirLock::~DirLock() { close(fd_); }

}  // namespace encore
