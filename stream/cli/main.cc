// encore: listening events from Kafka -> per-user features and bandit
// posteriors in RocksDB -> published snapshots.
//
//   encore <subcommand> [--flags...]      encore <subcommand> --help
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "stream/cli/common.h"

namespace {

struct Subcommand {
  const char* name;
  const char* source;  // the file defining its flags, for --help
  const char* shared;  // a file of flags it shares with others, or nullptr
  const char* summary;
  int (*run)(const std::vector<char*>&);
  // The flags defined elsewhere (common_flags.cc...) that it uses.
  std::vector<std::string> common;
};

const std::vector<std::string> kKafkaFlags = {
    "brokers", "topic", "kafka_config", "kafka_config_file"};

std::vector<std::string> With(std::vector<std::string> a,
                              const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  a.push_back("log_level");
  a.push_back("log_format");
  return a;
}

const Subcommand kSubcommands[] = {
    {"run", "cmd_run.cc", "state_flags.cc",
     "consume the topic and keep state and snapshots", encore::cli::RunCommand,
     With({"snapshot_dir", "checkpoint_store"}, kKafkaFlags)},
    {"read", "cmd_read.cc", nullptr,
     "print a user's state from the latest snapshot", encore::cli::ReadCommand,
     With({"snapshot_dir", "user", "json", "verify"}, {})},
    {"score", "cmd_score.cc", nullptr,
     "rank arms for a user from the latest snapshot", encore::cli::ScoreCommand,
     With({"snapshot_dir", "user", "json", "verify", "seed"}, {})},
    {"snapshot", "cmd_snapshot.cc", nullptr,
     "snapshot info|verify|pull: print the latest manifest, check "
     "snapshots, or pull them from a checkpoint store",
     encore::cli::SnapshotCommand,
     With(
         {"snapshot_dir", "json", "checkpoint_store", "topic", "snapshot_keep"},
         {})},
    {"backfill", "cmd_backfill.cc", "state_flags.cc",
     "replay a time range of a topic into a new state dir, then stop",
     encore::cli::BackfillCommand, With({"snapshot_dir"}, kKafkaFlags)},
    {"gen", "cmd_gen.cc", nullptr, "produce synthetic listening events",
     encore::cli::GenCommand, With({"seed"}, kKafkaFlags)},
    {"produce", "cmd_produce.cc", nullptr,
     "produce events from a JSON-lines file", encore::cli::ProduceCommand,
     With({"partitions"}, kKafkaFlags)},
    {"ope", "cmd_ope.cc", nullptr,
     "off-policy estimates of a target policy over a range of the log",
     encore::cli::OpeCommand,
     With({"snapshot_dir", "json", "seed", "from_time", "from_beginning",
           "to_time"},
          kKafkaFlags)},
};

std::string TopLevelUsage() {
  std::string s =
      "usage: encore <subcommand> [flags]   (encore <subcommand> "
      "--help)\n\nsubcommands:\n";
  for (const auto& c : kSubcommands) {
    s += "  " + std::string(c.name) +
         std::string(10 - std::strlen(c.name), ' ') + c.summary + "\n";
  }
  s += "\nFlags may be written --state-dir or --state_dir (also in a "
       "--flagfile=F, one flag per line); bool flags take --flag, --noflag, "
       "--flag=false or --flag false.\nExit codes: 0 done, 1 failed, 2 bad "
       "usage (one line: \"encore <subcommand>: <reason>\"), 3 backfill "
       "interrupted (continue with --resume).";
  return s;
}

// True if `flag` is one of `command`'s: defined in its own or shared file,
// or named in its common list. Flags that are not encore's (absl's
// --flagfile, --undefok...) are not judged here.
// True for the flags defined in stream/cli/ (absl may report a flag's file
// with or without its directory).
bool IsEncoreFlag(const absl::CommandLineFlag& flag) {
  std::string file = flag.Filename();
  file = file.substr(file.rfind('/') + 1);
  return file == "common_flags.cc" || file == "state_flags.cc" ||
         absl::StartsWith(file, "cmd_");
}

bool Applies(const Subcommand& command, const absl::CommandLineFlag& flag) {
  const std::string file = flag.Filename();
  if (!IsEncoreFlag(flag)) return true;
  if (absl::EndsWith(file, command.source)) return true;
  if (command.shared != nullptr && absl::EndsWith(file, command.shared))
    return true;
  return std::find(command.common.begin(), command.common.end(), flag.Name()) !=
         command.common.end();
}

std::string Dashed(absl::string_view name) {
  std::string dashed(name);
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  return dashed;
}

bool IsBoolWord(absl::string_view v) {
  return v == "true" || v == "false" || v == "yes" || v == "no" || v == "1" ||
         v == "0";
}

std::vector<std::string> ReadFlagfileLines(const std::string& path,
                                           absl::Status* status) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  if (!in) {
    *status = absl::InvalidArgumentError("cannot read --flagfile " + path);
    return lines;
  }
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view t = absl::StripAsciiWhitespace(line);
    if (t.empty() || t[0] == '#') continue;
    // "--name value" on one line: two arguments (absl would take it as one).
    const size_t space = t.find_first_of(" \t");
    if (absl::StartsWith(t, "--") && space != absl::string_view::npos &&
        t.substr(0, space).find('=') == absl::string_view::npos) {
      lines.emplace_back(t.substr(0, space));
      lines.emplace_back(absl::StripLeadingAsciiWhitespace(t.substr(space)));
      continue;
    }
    lines.emplace_back(t);
  }
  return lines;
}

// Rewrites the flags of `command` into the canonical "--name=value" form
// absl parses, so that every spelling the README promises works and every
// mistake is a one-line usage error (exit 2) in encore's style rather than
// absl's (exit 1):
//  - "--state-dir" == "--state_dir", also inside a --flagfile (which is
//    expanded here, nested ones too);
//  - "--name value" for any flag, "--bool-flag false" too;
//  - an unknown flag, a value that does not parse, or a flag of another
//    subcommand is refused, naming the flag.
// Every "--kafka-config" value is taken out and collected by encore itself
// (absl keeps only the last value of a repeated flag; values may hold
// commas). The names of the flags given are recorded (FlagGiven()).
class ArgNormalizer {
 public:
  explicit ArgNormalizer(const Subcommand& command) : command_(command) {}

  absl::Status Add(const std::vector<std::string>& args, int depth) {
    if (depth > 8)
      return absl::InvalidArgumentError("--flagfile nests too deep");
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--") {
        for (; i < args.size(); ++i) out_.push_back(args[i]);
        break;
      }
      if (a.size() <= 2 || a.rfind("--", 0) != 0) {
        out_.push_back(a);
        continue;
      }
      const size_t eq = a.find('=');
      std::string name = a.substr(2, eq == std::string::npos ? a.npos : eq - 2);
      std::replace(name.begin(), name.end(), '-', '_');
      std::optional<std::string> value;
      if (eq != std::string::npos) value = a.substr(eq + 1);
      absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
      if (flag == nullptr && absl::StartsWith(name, "no") && !value) {
        absl::CommandLineFlag* negated =
            absl::FindCommandLineFlag(name.substr(2));
        if (negated != nullptr && negated->IsOfType<bool>()) {
          flag = negated;
          name = name.substr(2);
          value = "false";
        }
      }
      if (flag == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown flag --", Dashed(name), " (encore ",
                         command_.name, " --help lists its flags)"));
      }
      if (!Applies(command_, *flag)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", Dashed(name), " does not apply to encore ", command_.name,
            " (encore ", command_.name, " --help lists its flags)"));
      }
      if (!value) {
        if (flag->IsOfType<bool>()) {
          value = "true";
          if (i + 1 < args.size() && IsBoolWord(args[i + 1])) value = args[++i];
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat("--", Dashed(name), " needs a value"));
        }
      }
      if (name == "kafka_config") {
        encore::cli::AddKafkaConfigArg(*value);
        encore::cli::RecordFlagGiven(name);
        continue;
      }
      if (name == "flagfile") {
        for (absl::string_view file : absl::StrSplit(*value, ',')) {
          absl::Status status;
          std::vector<std::string> lines =
              ReadFlagfileLines(std::string(file), &status);
          if (!status.ok()) return status;
          if (absl::Status s = Add(lines, depth + 1); !s.ok()) {
            return absl::Status(s.code(),
                                absl::StrCat(s.message(), " (in ", file, ")"));
          }
        }
        continue;
      }
      // Checked here so that a bad value is reported in encore's style;
      // absl parses it again below.
      std::string error;
      if (IsEncoreFlag(*flag) && !flag->ParseFrom(*value, &error)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", Dashed(name), ": illegal value '", *value, "'",
                         error.empty() ? "" : ": ", error));
      }
      encore::cli::RecordFlagGiven(name);
      out_.push_back(absl::StrCat("--", name, "=", *value));
    }
    return absl::OkStatus();
  }

  std::vector<std::string>& args() { return out_; }

 private:
  const Subcommand& command_;
  std::vector<std::string> out_;
};

// Prints the subcommand's own flags and the common ones it uses, sorted by
// name.
void PrintHelp(const Subcommand& command) {
  std::cout << "encore " << command.name << ": " << command.summary << "\n";
  std::vector<std::pair<std::string, const absl::CommandLineFlag*>> own, shared,
      common;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    const std::string file = flag->Filename();
    if (!IsEncoreFlag(*flag)) continue;
    if (absl::EndsWith(file, command.source)) {
      own.emplace_back(std::string(name), flag);
    } else if (command.shared != nullptr &&
               absl::EndsWith(file, command.shared)) {
      shared.emplace_back(std::string(name), flag);
    } else if (Applies(command, *flag)) {
      common.emplace_back(std::string(name), flag);
    }
  }
  using Flags =
      std::vector<std::pair<std::string, const absl::CommandLineFlag*>>;
  const std::pair<const char*, Flags*> sections[] = {
      {"\nflags:\n", &own},
      {"\nstate and model flags:\n", &shared},
      {"\ncommon flags:\n", &common}};
  for (const auto& [title, flags] : sections) {
    if (flags->empty()) continue;
    std::sort(flags->begin(), flags->end());
    std::cout << title;
    for (const auto& [name, flag] : *flags) {
      std::cout << "  --" << Dashed(name) << " (default: \""
                << flag->DefaultValue() << "\")\n      " << flag->Help()
                << "\n";
    }
  }
  std::cout << "\nFlags may be written --state-dir or --state_dir, also in a "
               "--flagfile=F (one flag per line, '#' comments).\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 ||
      std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "help") == 0) {
    std::cout << TopLevelUsage() << "\n";
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::cout << "encore " << ENCORE_VERSION << "\n";
    return 0;
  }
  const Subcommand* command = nullptr;
  for (const auto& c : kSubcommands) {
    if (std::strcmp(argv[1], c.name) == 0) command = &c;
  }
  if (command == nullptr) {
    std::cerr << "encore: unknown subcommand '" << argv[1]
              << "' (encore --help lists them)\n";
    return 2;
  }

  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-h") == 0) {
      PrintHelp(*command);
      return 0;
    }
  }
  absl::FlagsUsageConfig config;
  config.version_string = [] {
    return std::string("encore ") + ENCORE_VERSION + "\n";
  };
  config.normalize_filename = [](absl::string_view f) {
    return std::string(f);
  };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(command->summary);

  // argv[0] for absl is "encore <subcommand>"; the rest are flags.
  ArgNormalizer normalizer(*command);
  if (absl::Status s =
          normalizer.Add(std::vector<std::string>(argv + 2, argv + argc), 0);
      !s.ok()) {
    return encore::cli::UsageError(command->name, std::string(s.message()));
  }
  std::string program = std::string("encore ") + command->name;
  std::vector<char*> args = {program.data()};
  for (std::string& a : normalizer.args()) args.push_back(a.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (absl::Status s = encore::cli::ConfigureLogging(); !s.ok()) {
    return encore::cli::UsageError(command->name, std::string(s.message()));
  }
  return command->run(positional);
}
