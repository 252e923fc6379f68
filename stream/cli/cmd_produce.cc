// encore produce: JSON lines (ListenEvent field names) -> protobuf -> Kafka.
#include <fstream>
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "stream/cli/common.h"
#include "stream/event_producer.h"
#include "stream/validation.h"

ABSL_FLAG(std::string, from_jsonl, "",
          "File with one ListenEvent JSON object per line ('-' = stdin).");
ABSL_FLAG(bool, validate, true,
          "Skip events encore's validation would reject (as encore run "
          "would dead-letter them); false: send them anyway, with a warning "
          "per line (to exercise dead-lettering).");
ABSL_FLAG(int64_t, max_bad_lines, 0,
          "Lines that do not parse or fail encore's validation are reported "
          "and not sent; more than this many make the exit code 1.");
ABSL_DECLARE_FLAG(int, partitions);

namespace encore::cli {

int ProduceCommand(const std::vector<char*>& args) {
  const std::string cmd = "produce";
  if (args.size() > 1)
    return UsageError(cmd, absl::StrCat("unexpected argument '", args[1], "'"));
  absl::StatusOr<KafkaClientConfig> client = ClientConfigFromFlags();
  if (!client.ok())
    return UsageError(cmd, std::string(client.status().message()));
  const std::string topic = absl::GetFlag(FLAGS_topic);
  const std::string path = absl::GetFlag(FLAGS_from_jsonl);
  if (topic.empty()) return UsageError(cmd, "--topic is required");
  if (path.empty()) return UsageError(cmd, "--from-jsonl is required");
  const int64_t max_bad = absl::GetFlag(FLAGS_max_bad_lines);
  if (absl::Status s = CheckAtLeast("max-bad-lines", max_bad, 0); !s.ok())
    return UsageError(cmd, std::string(s.message()));
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) return UsageError(cmd, "cannot open " + path);
    in = &file;
  }
  absl::StatusOr<std::unique_ptr<encore::EventProducer>> producer =
      encore::EventProducer::Open(*client, topic,
                                  absl::GetFlag(FLAGS_partitions));
  if (!producer.ok()) return Failure(cmd, producer.status());

  std::string line;
  uint64_t line_no = 0, sent = 0, bad = 0;
  ListenEvent event;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  while (std::getline(*in, line)) {
    ++line_no;
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty()) continue;
    event.Clear();
    auto status = google::protobuf::util::JsonStringToMessage(
        std::string(trimmed), &event, options);
    if (!status.ok()) {
      std::cerr << absl::StrFormat("%s:%d: skipped: %s\n", path, line_no,
                                   status.message().as_string());
      ++bad;
      continue;
    }
    // The rules encore applies when it consumes the event (the message is
    // keyed by user_id and stamped now), so what would be dead-lettered is
    // not sent.
    const Verdict verdict =
        ValidateEvent(event, event.user_id(), absl::ToUnixMillis(absl::Now()),
                      ValidationLimits());
    if (!verdict.ok()) {
      const bool skip = absl::GetFlag(FLAGS_validate);
      std::cerr << absl::StrFormat(
          "%s:%d: %s: %s: %s\n", path, line_no,
          skip ? "skipped" : "sent although encore will reject it",
          RejectReasonName(verdict.reason), verdict.detail);
      if (skip) {
        ++bad;
        continue;
      }
    }
    absl::Status s = (*producer)->Send(event);
    if (!s.ok()) return Failure(cmd, s);
    ++sent;
  }
  absl::Status s = (*producer)->Flush(60000);
  if (!s.ok()) return Failure(cmd, s);
  std::cerr << absl::StrFormat(
      "produced %d events to %s, skipped %d bad lines\n", sent, topic, bad);
  if (static_cast<int64_t>(bad) > max_bad) {
    return Failure(
        cmd, absl::InvalidArgumentError(absl::StrFormat(
                 "%d bad lines (more than --max-bad-lines=%d)", bad, max_bad)));
  }
  return 0;
}

}  // namespace encore::cli
