#include "state/s3_xml.h"

#include <expat.h>

#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace encore {
namespace {

// Calls `on_end(path, text)` at the end of each element, `path` being the
// local names from the root to that element and `text` its own character
// data. Returns expat's error, if any, as a message.
using EndElement =
    std::function<void(const std::vector<std::string>&, const std::string&)>;

struct Walk {
  std::vector<std::string> path;
  std::vector<std::string> text;  // per open element
  const EndElement* on_end;
};

std::string LocalName(const XML_Char* name) {
  absl::string_view n = name;
  const size_t colon = n.rfind(':');
  return std::string(colon == absl::string_view::npos ? n
                                                      : n.substr(colon + 1));
}

void OnStart(void* data, const XML_Char* name, const XML_Char** /*attrs*/) {
  auto* walk = static_cast<Walk*>(data);
  walk->path.push_back(LocalName(name));
  walk->text.emplace_back();
}

void OnEnd(void* data, const XML_Char* /*name*/) {
  auto* walk = static_cast<Walk*>(data);
  (*walk->on_end)(walk->path, walk->text.back());
  walk->path.pop_back();
  walk->text.pop_back();
}

void OnText(void* data, const XML_Char* s, int len) {
  auto* walk = static_cast<Walk*>(data);
  if (!walk->text.empty())
    walk->text.back().append(s, static_cast<size_t>(len));
}

std::optional<std::string> WalkXml(absl::string_view xml,
                                   const EndElement& on_end) {
  if (xml.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return "document too large";
  }
  std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(
      XML_ParserCreate(nullptr), &XML_ParserFree);
  if (parser == nullptr) return "out of memory";
  Walk walk{{}, {}, &on_end};
  XML_SetUserData(parser.get(), &walk);
  XML_SetElementHandler(parser.get(), OnStart, OnEnd);
  XML_SetCharacterDataHandler(parser.get(), OnText);
  if (XML_Parse(parser.get(), xml.data(), static_cast<int>(xml.size()),
                /*isFinal=*/1) != XML_STATUS_OK) {
    return absl::StrCat(XML_ErrorString(XML_GetErrorCode(parser.get())),
                        " at line ", XML_GetCurrentLineNumber(parser.get()));
  }
  return std::nullopt;
}

bool PathIs(const std::vector<std::string>& path,
            std::initializer_list<absl::string_view> want) {
  if (path.size() != want.size()) return false;
  size_t i = 0;
  for (absl::string_view w : want) {
    if (path[i++] != w) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<S3ListPage> ParseS3ListPage(absl::string_view xml) {
  S3ListPage page;
  S3ListPage::Object object;
  std::string bad_time;
  bool root_seen = false;
  const EndElement on_end = [&](const std::vector<std::string>& path,
                                const std::string& text) {
    constexpr absl::string_view kRoot = "ListBucketResult";
    if (PathIs(path, {kRoot})) {
      root_seen = true;
    } else if (PathIs(path, {kRoot, "Contents", "Key"})) {
      object.key = text;
    } else if (PathIs(path, {kRoot, "Contents", "LastModified"})) {
      absl::Time t;
      std::string err;
      if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
        object.modified_ms = absl::ToUnixMillis(t);
      } else if (bad_time.empty()) {
        bad_time = text;
      }
    } else if (PathIs(path, {kRoot, "Contents"})) {
      page.objects.push_back(std::move(object));
      object = {};
    } else if (PathIs(path, {kRoot, "CommonPrefixes", "Prefix"})) {
      page.common_prefixes.push_back(text);
    } else if (PathIs(path, {kRoot, "IsTruncated"})) {
      page.truncated = text == "true";
    } else if (PathIs(path, {kRoot, "NextContinuationToken"})) {
      page.next_continuation_token = text;
    }
  };
  if (std::optional<std::string> err = WalkXml(xml, on_end)) {
    return absl::DataLossError(
        absl::StrCat("S3 ListObjectsV2 answer is not XML: ", *err));
  }
  if (!root_seen) {
    return absl::DataLossError(
        "S3 ListObjectsV2 answer is not a ListBucketResult");
  }
  if (!bad_time.empty()) {
    return absl::DataLossError(
        absl::StrCat("S3 ListObjectsV2 answer: LastModified '", bad_time,
                     "' is not a time"));
  }
  if (page.truncated && page.next_continuation_token.empty()) {
    return absl::DataLossError(
        "S3 ListObjectsV2 answer is truncated but has no "
        "NextContinuationToken");
  }
  return page;
}

S3Error ParseS3Error(absl::string_view xml) {
  S3Error error;
  const EndElement on_end = [&](const std::vector<std::string>& path,
                                const std::string& text) {
    if (PathIs(path, {"Error", "Code"})) error.code = text;
    if (PathIs(path, {"Error", "Message"})) error.message = text;
  };
  if (WalkXml(xml, on_end).has_value()) return {};
  return error;
}

}  // namespace encore
