#include "state/s3_config.h"

#include <cstdlib>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace encore {
namespace {

// The first set, non-empty variable of `names`, else nullopt.
std::optional<std::string> FirstSet(const EnvLookup& env,
                                    std::initializer_list<const char*> names) {
  for (const char* name : names) {
    std::optional<std::string> value = env(name);
    if (value.has_value() && !value->empty()) return value;
  }
  return std::nullopt;
}

bool ValidBucket(const std::string& bucket) {
  if (bucket.empty() || bucket.size() > 255) return false;
  for (char c : bucket) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> Endpoint(const EnvLookup& env,
                                     const std::string& region) {
  std::optional<std::string> endpoint =
      FirstSet(env, {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"});
  if (!endpoint.has_value()) {
    return absl::StrCat("https://s3.", region, ".amazonaws.com");
  }
  std::string url = *endpoint;
  while (absl::EndsWith(url, "/")) url.pop_back();
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://") &&
      !absl::ConsumePrefix(&rest, "https://")) {
    // Not echoed: a malformed value may hold credentials.
    return absl::InvalidArgumentError(
        "S3 endpoint (AWS_ENDPOINT_URL[_S3]): expected http:// or https://");
  }
  // Requests are path-style under the endpoint's root; credentials never go
  // in a URL (they would end up in logs).
  if (rest.empty() || rest.find_first_of("/?#@") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 endpoint (AWS_ENDPOINT_URL[_S3]): expected ",
                     "scheme://host[:port], without a path or user"));
  }
  return url;
}

// Profiles of an AWS shared credentials file: [name] sections of
// "key = value" lines, '#' and ';' comments.
using Profiles = std::map<std::string, std::map<std::string, std::string>>;

absl::StatusOr<Profiles> ReadCredentialsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the AWS credentials file ", path));
  }
  Profiles profiles;
  std::map<std::string, std::string>* section = nullptr;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#' || l[0] == ';') continue;
    if (l.front() == '[' && l.back() == ']') {
      l.remove_prefix(1);
      l.remove_suffix(1);
      section = &profiles[std::string(absl::StripAsciiWhitespace(l))];
      continue;
    }
    const size_t eq = l.find('=');
    if (section == nullptr || eq == absl::string_view::npos) continue;
    (*section)[absl::AsciiStrToLower(absl::StripAsciiWhitespace(l.substr(
        0, eq)))] = std::string(absl::StripAsciiWhitespace(l.substr(eq + 1)));
  }
  return profiles;
}

absl::StatusOr<S3Credentials> Credentials(const EnvLookup& env) {
  std::optional<std::string> id = FirstSet(env, {"AWS_ACCESS_KEY_ID"});
  std::optional<std::string> secret = FirstSet(env, {"AWS_SECRET_ACCESS_KEY"});
  if (id.has_value() != secret.has_value()) {
    return absl::FailedPreconditionError(
        "S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be "
        "set together");
  }
  if (id.has_value()) {
    return S3Credentials{*id, *secret,
                         FirstSet(env, {"AWS_SESSION_TOKEN"}).value_or("")};
  }

  std::optional<std::string> path =
      FirstSet(env, {"AWS_SHARED_CREDENTIALS_FILE"});
  if (!path.has_value()) {
    std::optional<std::string> home = FirstSet(env, {"HOME"});
    if (home.has_value()) path = *home + "/.aws/credentials";
  }
  if (!path.has_value() || !std::ifstream(*path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        "or provide a shared credentials file (AWS_SHARED_CREDENTIALS_FILE, "
        "else ~/.aws/credentials; ",
        path.has_value() ? *path + " is not readable" : "HOME is not set",
        ")"));
  }
  auto profiles = ReadCredentialsFile(*path);
  if (!profiles.ok()) return profiles.status();
  const std::string profile =
      FirstSet(env, {"AWS_PROFILE"}).value_or("default");
  auto it = profiles->find(profile);
  if (it == profiles->end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("S3 credentials: no profile [", profile, "] in ", *path));
  }
  const auto& keys = it->second;
  auto key = keys.find("aws_access_key_id");
  auto secret_key = keys.find("aws_secret_access_key");
  if (key == keys.end() || secret_key == keys.end() || key->second.empty() ||
      secret_key->second.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("S3 credentials: profile [", profile, "] in ", *path,
                     " lacks aws_access_key_id or aws_secret_access_key"));
  }
  auto token = keys.find("aws_session_token");
  return S3Credentials{key->second, secret_key->second,
                       token == keys.end() ? "" : token->second};
}

}  // namespace

std::string S3Config::Uri() const {
  return prefix.empty() ? absl::StrCat("s3://", bucket)
                        : absl::StrCat("s3://", bucket, "/", prefix);
}

std::optional<std::string> GetEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<S3Config> S3ConfigFromUri(const std::string& uri,
                                         const EnvLookup& env) {
  absl::string_view rest = uri;
  if (!absl::ConsumePrefix(&rest, "s3://")) {
    return absl::InvalidArgumentError("expected s3://bucket/prefix");
  }
  S3Config config;
  const size_t slash = rest.find('/');
  config.bucket = std::string(rest.substr(0, slash));
  if (slash != absl::string_view::npos) {
    absl::string_view prefix = rest.substr(slash);
    while (absl::ConsumePrefix(&prefix, "/")) {
    }
    while (absl::ConsumeSuffix(&prefix, "/")) {
    }
    config.prefix = std::string(prefix);
  }
  if (!ValidBucket(config.bucket)) {
    return absl::InvalidArgumentError(
        "expected s3://bucket/prefix with a valid bucket name");
  }
  config.region =
      FirstSet(env, {"AWS_REGION", "AWS_DEFAULT_REGION"}).value_or("us-east-1");
  auto endpoint = Endpoint(env, config.region);
  if (!endpoint.ok()) return endpoint.status();
  config.endpoint = std::move(*endpoint);
  auto credentials = Credentials(env);
  if (!credentials.ok()) return credentials.status();
  config.credentials = std::move(*credentials);
  return config;
}

}  // namespace encore
