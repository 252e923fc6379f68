// ObjectStore: a flat namespace of immutable-once-written objects, the
// storage under a checkpoint store (state/checkpoint_store.h).
//
// Keys are relative paths ("orders/p-00003/owners/7"); a Put is atomic (a
// reader sees the whole previous object or the whole new one, never a
// part) and durable when it returns, and PutIfAbsent creates exclusively.
// That is all a checkpoint store needs, and what both a shared filesystem
// (rename, link) and an S3-compatible service (PUT, If-None-Match) give.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store,
//                    OpenObjectStore("file:///mnt/encore-checkpoints"));
//   RETURN_IF_ERROR(store->Put("a/b", "contents"));
//
// Thread safety: implementations are thread-safe.
#ifndef ENCORE_STATE_OBJECT_STORE_H_
#define ENCORE_STATE_OBJECT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace encore {

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Whether `key` exists.
  virtual absl::StatusOr<bool> Exists(const std::string& key) = 0;
  // Stores `contents` under `key`, replacing what was there.
  virtual absl::Status Put(const std::string& key,
                           const std::string& contents) = 0;
  // Stores `contents` under `key` only if nothing is there (one writer wins
  // a race): AlreadyExists otherwise.
  virtual absl::Status PutIfAbsent(const std::string& key,
                                   const std::string& contents) = 0;
  // Stores the file at `path` under `key`, replacing what was there.
  virtual absl::Status PutFile(const std::string& key,
                               const std::string& path) = 0;
  // NotFound if `key` does not exist.
  virtual absl::StatusOr<std::string> Get(const std::string& key) = 0;
  // Writes the object to the new file `path` and fsyncs it. NotFound if
  // `key` does not exist.
  virtual absl::Status GetFile(const std::string& key,
                               const std::string& path) = 0;
  // What is directly under `prefix` (a key without its trailing "/"):
  // objects and deeper prefixes alike, sorted by name. Empty if nothing.
  struct Entry {
    std::string name;
    int64_t modified_ms = 0;  // when it was last written (wall clock)
  };
  virtual absl::StatusOr<std::vector<Entry>> List(
      const std::string& prefix) = 0;
  // Removes `key`; OK if it does not exist.
  virtual absl::Status Delete(const std::string& key) = 0;
  // The store's URI, for logs (never credentials).
  virtual std::string Describe() const = 0;
};

// file:///absolute/path: a directory, typically on a filesystem every
// member mounts (created if absent). s3://bucket/prefix: objects under
// prefix/ in an S3 bucket, or any S3-compatible service's, with endpoint,
// region and credentials from the standard AWS environment variables or
// credentials file (state/s3_config.h, state/s3_object_store.h);
// FailedPrecondition if no credentials are found. InvalidArgument for
// anything else.
absl::StatusOr<std::unique_ptr<ObjectStore>> OpenObjectStore(
    const std::string& uri);

}  // namespace encore

#endif  // ENCORE_STATE_OBJECT_STORE_H_
