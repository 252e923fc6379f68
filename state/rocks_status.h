// The one adapter from rocksdb::Status to absl::Status.
#ifndef ENCORE_STATE_ROCKS_STATUS_H_
#define ENCORE_STATE_ROCKS_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace encore {

// Maps RocksDB's codes onto absl's: Corruption -> DataLoss, IOError / Busy /
// TimedOut / TryAgain -> Unavailable, NoSpace -> ResourceExhausted,
// NotFound -> NotFound, InvalidArgument -> InvalidArgument, else Internal.
// `context` (e.g. "commit partition 3") is prefixed to the message.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context);

}  // namespace encore

#endif  // ENCORE_STATE_ROCKS_STATUS_H_
