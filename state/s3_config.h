// S3Config: where an s3:// object store lives and how to sign for it, from
// the URI and the standard AWS environment.
//
//   s3://BUCKET[/PREFIX]   keys are stored under PREFIX/ in BUCKET
//
// Environment (the AWS CLI's names and precedence, a subset):
//   AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else
//       https://s3.<region>.amazonaws.com   (requests are path-style:
//       <endpoint>/<bucket>/<key>, so any S3-compatible service works)
//   AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1
//   AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else
//       the profile AWS_PROFILE (else "default") of the shared credentials
//       file AWS_SHARED_CREDENTIALS_FILE (else ~/.aws/credentials)
// Instance roles, SSO and the config file's credential_process are not
// read.
//
//   ASSIGN_OR_RETURN(S3Config config, S3ConfigFromUri("s3://b/checkpoints"));
//
// Thread safety: plain values and pure functions (reading the environment
// and the credentials file).
#ifndef ENCORE_STATE_S3_CONFIG_H_
#define ENCORE_STATE_S3_CONFIG_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace encore {

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty if none
};

struct S3Config {
  std::string endpoint;  // scheme://host[:port], no trailing "/"
  std::string region;
  std::string bucket;
  std::string prefix;  // no leading or trailing "/"; may be empty
  S3Credentials credentials;

  // Requests: a transient failure (connection, timeout, 5xx, throttling) is
  // tried again up to `max_attempts` times in all, waiting
  // `initial_backoff_ms`, doubled each time (with jitter), between tries.
  int max_attempts = 5;
  int initial_backoff_ms = 100;
  int connect_timeout_ms = 5000;
  // A transfer slower than 1 byte/s for this long is a timeout (no total
  // limit: checkpoint files can be large).
  int stall_timeout_ms = 30000;
  // ListObjectsV2 page size (max-keys); S3 caps it at 1000.
  int list_page_size = 1000;

  // "s3://bucket/prefix": the URI, for logs (never credentials).
  std::string Uri() const;
};

// Looks up an environment variable; nullopt if unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment (std::getenv).
std::optional<std::string> GetEnv(const std::string& name);

// The configuration for `uri` from the environment `env` (see the top of
// this file). InvalidArgument for a malformed URI or endpoint;
// FailedPrecondition if no credentials are found or the credentials file
// or its profile cannot be read. Messages do not repeat `uri`.
absl::StatusOr<S3Config> S3ConfigFromUri(const std::string& uri,
                                         const EnvLookup& env = GetEnv);

}  // namespace encore

#endif  // ENCORE_STATE_S3_CONFIG_H_
