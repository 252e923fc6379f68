// S3ObjectStore: an ObjectStore (state/object_store.h) in an S3 bucket, or
// any S3-compatible service, over HTTP(S) with libcurl. OpenObjectStore
// opens one for "s3://bucket/prefix" with the configuration of
// state/s3_config.h; tests open one with their own S3Config.
//
// Each ObjectStore call is one request (List: one per page of
// ListObjectsV2), signed with AWS Signature V4 by libcurl
// (CURLOPT_AWS_SIGV4), to <endpoint>/<bucket>/<prefix>/<key> (path-style).
//   Exists: HEAD            Get, GetFile: GET         Delete: DELETE
//   Put, PutFile: PUT       PutIfAbsent: PUT with If-None-Match: *
//   List: GET ?list-type=2&prefix=<prefix>/<key>/&delimiter=/ (paginated)
// A PUT of S3 replaces an object atomically and is durable when answered,
// as the ObjectStore contract asks. Put and PutIfAbsent sign the payload's
// SHA-256 (the service checks it); PutFile streams the file and signs
// UNSIGNED-PAYLOAD.
//
// Errors: 404 is NotFound (Exists: false; Delete: OK), 401/403
// PermissionDenied (wrong or expired credentials, or a missing permission:
// without s3:ListBucket, S3 answers a missing key with 403, not 404), 412 or
// 409 on PutIfAbsent AlreadyExists, 5xx, throttling and connection failures
// Unavailable once `max_attempts` tries (with exponential backoff) have
// failed, 3xx (S3 redirects a request sent to another region's endpoint)
// and other 409/412 FailedPrecondition, other 4xx InvalidArgument; a
// failure to read or write a local file is the errno's status (see
// state/file_util.h), and is not retried. A PutIfAbsent
// whose earlier try may have been applied before the connection broke, and
// whose retry then finds the key, reads the object back: if it holds the
// same contents, the retry reports OK. Messages name the method, the
// s3:// key, the HTTP status and S3's error code and message; never
// credentials.
//
// Thread safety: thread-safe; idle curl handles (and their connections) are
// pooled and reused by later calls.
#ifndef ENCORE_STATE_S3_OBJECT_STORE_H_
#define ENCORE_STATE_S3_OBJECT_STORE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "state/object_store.h"
#include "state/s3_config.h"

namespace encore {

// Opens the store `config` describes. Sends nothing: an unreachable
// service or a missing bucket shows in the first call. InvalidArgument if
// `config` lacks a bucket, endpoint, region or credentials.
absl::StatusOr<std::unique_ptr<ObjectStore>> OpenS3ObjectStore(S3Config config);

}  // namespace encore

#endif  // ENCORE_STATE_S3_OBJECT_STORE_H_
