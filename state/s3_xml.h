// The XML bodies of S3 responses that the s3:// object store reads:
// ListObjectsV2 pages and error documents. Internal to state/.
//
// Parsed with expat (a real XML parser: entities such as &amp; in keys,
// CDATA and namespaces are handled), matching elements by local name.
//
// Thread safety: pure functions.
#ifndef ENCORE_STATE_S3_XML_H_
#define ENCORE_STATE_S3_XML_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace encore {

// One page of a ListObjectsV2 answer (<ListBucketResult>).
struct S3ListPage {
  struct Object {
    std::string key;
    int64_t modified_ms = 0;  // <LastModified>, ms since the epoch
  };
  std::vector<Object> objects;               // <Contents>
  std::vector<std::string> common_prefixes;  // <CommonPrefixes><Prefix>
  bool truncated = false;                    // <IsTruncated>
  std::string next_continuation_token;       // <NextContinuationToken>
};

// DataLoss if `xml` is not well-formed, not a ListBucketResult, or a
// LastModified is not an ISO 8601 time; also if it says it is truncated
// but gives no continuation token.
absl::StatusOr<S3ListPage> ParseS3ListPage(absl::string_view xml);

// An S3 error document: <Error><Code>..</Code><Message>..</Message></Error>.
struct S3Error {
  std::string code;  // e.g. "NoSuchKey", "PreconditionFailed"
  std::string message;
};

// Empty fields if `xml` is empty, not XML or not an error document (a HEAD
// answer has no body; a proxy may answer with HTML).
S3Error ParseS3Error(absl::string_view xml);

}  // namespace encore

#endif  // ENCORE_STATE_S3_XML_H_
