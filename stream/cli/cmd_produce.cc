// encore produce: JSON lines (ListenEvent field names) -> protobuf -> Kafka.
#include <fstream>
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "stream/cli/common.h"
#include "stream/event_producer.h"

ABSL_FLAG(std::string, from_jsonl, "",
          "File with one ListenEvent JSON object per line ('-' = stdin).");
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
    absl::Status s = (*producer)->Send(event);
    if (!s.ok()) return Failure(cmd, s);
    ++sent;
  }
  absl::Status s = (*producer)->Flush(60000);
  if (!s.ok()) return Failure(cmd, s);
  std::cerr << absl::StrFormat(
      "produced %d events to %s, skipped %d bad lines\n", sent, topic, bad);
  return 0;
}

}  // namespace encore::cli
