// Small durable-file helpers used by snapshot publishing (internal to state/).
#ifndef ENCORE_STATE_FILE_UTIL_H_
#define ENCORE_STATE_FILE_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace encore {

// `what` and strerror(err) as a status: NotFound for ENOENT,
// ResourceExhausted for ENOSPC/EDQUOT, else Unavailable.
absl::Status ErrnoStatus(const std::string& what, int err);

// Writes `contents` to `path` and fsyncs it.
absl::Status WriteFileDurably(const std::string& path,
                              const std::string& contents);

// Writes `contents` to `path` atomically: a temporary sibling is written,
// fsynced and renamed over `path`, then the directory is fsynced.
absl::Status ReplaceFileAtomically(const std::string& path,
                                   const std::string& contents);

// fsyncs a directory so that entries created or renamed in it are durable.
absl::Status SyncDirectory(const std::string& dir);

// The whole contents of `path`. NotFound if absent.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace encore

#endif  // ENCORE_STATE_FILE_UTIL_H_
