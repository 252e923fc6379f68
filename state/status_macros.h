// Small helpers for absl::Status, which Debian 12's Abseil (20220623) lacks.
//
//   RETURN_IF_ERROR(store.Commit(batch));
//   ASSIGN_OR_RETURN(auto reader, SnapshotReader::Open(dir));
#ifndef ENCORE_STATE_STATUS_MACROS_H_
#define ENCORE_STATE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ENCORE_CONCAT_INNER_(a, b) a##b
#define ENCORE_CONCAT_(a, b) ENCORE_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status encore_status_ = (expr);          \
    if (!encore_status_.ok()) return encore_status_; \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status,
// otherwise moves the value into `lhs` (which may be a declaration).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL_(ENCORE_CONCAT_(encore_statusor_, __LINE__), lhs, rexpr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                           \
  if (!statusor.ok()) return statusor.status();      \
  lhs = std::move(statusor).value()

#endif  // ENCORE_STATE_STATUS_MACROS_H_
