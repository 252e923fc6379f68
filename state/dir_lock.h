// DirLock: one process at a time per state or snapshot directory.
//
// Two processes writing one state directory split its partitions and each
// publishes half of them; two publishing into one snapshot directory race
// for LATEST. A DirLock is an exclusive flock(2) on `<dir>/LOCK`, held until
// it is destroyed (or the process ends, however it ends: the kernel drops
// the lock, so a crash never leaves a stale lock behind). The holder writes
// its pid, host and start time into the file, so a refusal can name it.
//
// flock(2) locks are per open file: a second DirLock on the same directory
// fails also within one process. Local file systems only (on NFS flock may
// be emulated by byte-range locks or not enforced between hosts).
//
// Thread safety: a DirLock is immutable once acquired.
#ifndef ENCORE_STATE_DIR_LOCK_H_
#define ENCORE_STATE_DIR_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace encore {

inline constexpr char kLockFile[] = "LOCK";

class DirLock {
 public:
  // Creates `dir` if needed and locks `<dir>/LOCK` without waiting.
  // `what` names the directory in messages (e.g. "--state-dir").
  // FailedPrecondition if another holder has it: "<what> <dir> is in use by
  // pid P on host H (since T)"; Unavailable on I/O errors.
  static absl::StatusOr<std::unique_ptr<DirLock>> Acquire(
      const std::string& dir, const std::string& what);

  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  const std::string& dir() const { return dir_; }

 private:
  DirLock(std::string dir, int fd) : dir_(std::move(dir)), fd_(fd) {}
  const std::string dir_;
  const int fd_;
};

}  // namespace encore

#endif  // ENCORE_STATE_DIR_LOCK_H_
