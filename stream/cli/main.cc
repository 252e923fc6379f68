// encore: listening events from Kafka -> per-user features and bandit
// posteriors in RocksDB -> published snapshots.
//
//   encore <subcommand> [--flags...]      encore <subcommand> --help
#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "stream/cli/common.h"

namespace {

struct Subcommand {
  const char* name;
  const char* source;  // the file defining its flags, for --help
  const char* shared;  // a file of flags it shares with others, or nullptr
  const char* summary;
  int (*run)(const std::vector<char*>&);
  // Flags it takes that another file defines (listed with its own), as
  // ",name,name,", or nullptr.
  const char* borrowed_flags = nullptr;
};

const Subcommand kSubcommands[] = {
    {"run", "cmd_run.cc", "state_flags.cc",
     "consume the topic and keep state and snapshots", encore::cli::RunCommand},
    {"read", "cmd_read.cc", nullptr,
     "print a user's state from the latest snapshot", encore::cli::ReadCommand},
    {"score", "cmd_score.cc", nullptr,
     "rank arms for a user from the latest snapshot",
     encore::cli::ScoreCommand},
    {"snapshot", "cmd_snapshot.cc", nullptr,
     "snapshot info|verify: print the latest manifest, or check snapshots",
     encore::cli::SnapshotCommand},
    {"backfill", "cmd_backfill.cc", "state_flags.cc",
     "replay a time range of a topic into a new state dir, then stop",
     encore::cli::BackfillCommand},
    {"gen", "cmd_gen.cc", nullptr, "produce synthetic listening events",
     encore::cli::GenCommand},
    {"produce", "cmd_produce.cc", nullptr,
     "produce events from a JSON-lines file", encore::cli::ProduceCommand,
     ",partitions,"},
    {"ope", "cmd_ope.cc", nullptr,
     "off-policy estimates of a target policy over a range of the log",
     encore::cli::OpeCommand, ",from_time,from_beginning,to_time,"},
};

std::string TopLevelUsage() {
  std::string s =
      "usage: encore <subcommand> [flags]   (encore <subcommand> "
      "--help)\n\nsubcommands:\n";
  for (const auto& c : kSubcommands) {
    s += "  " + std::string(c.name) +
         std::string(10 - std::strlen(c.name), ' ') + c.summary + "\n";
  }
  s += "\nFlags may be written --state-dir or --state_dir; --flagfile=F reads "
       "flags (with underscores) from F.";
  return s;
}

// "--state-dir=x" -> "--state_dir=x": absl flags use underscores. Also
// takes every "--kafka_config=k=v" / "--kafka_config k=v" out of `args`:
// absl keeps only the last value of a repeated flag, and values may hold
// commas, so encore collects them itself (see KafkaConfigArgs()).
absl::Status NormalizeArgs(std::vector<char*>& args,
                           std::vector<std::string>& storage) {
  storage.reserve(args.size());
  std::vector<char*> kept;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (i > 0 && a.size() > 2 && a.rfind("--", 0) == 0) {
      const size_t end = std::min(a.find('='), a.size());
      for (size_t j = 2; j < end; ++j) {
        if (a[j] == '-') a[j] = '_';
      }
      if (a == "--kafka_config") {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError("--kafka-config needs key=value");
        }
        encore::cli::AddKafkaConfigArg(args[++i]);
        continue;
      }
      if (a.rfind("--kafka_config=", 0) == 0) {
        encore::cli::AddKafkaConfigArg(a.substr(15));
        continue;
      }
      storage.push_back(a);
      kept.push_back(storage.back().data());
      continue;
    }
    kept.push_back(args[i]);
  }
  args = kept;
  return absl::OkStatus();
}

// Prints the subcommand's own flags and the common ones, sorted by name.
void PrintHelp(const Subcommand& command) {
  std::cout << "encore " << command.name << ": " << command.summary << "\n";
  for (const char* file : {command.source, command.shared, "common_flags.cc"}) {
    if (file == nullptr) continue;
    std::vector<std::pair<std::string, const absl::CommandLineFlag*>> flags;
    for (const auto& [name, flag] : absl::GetAllFlags()) {
      if (absl::EndsWith(flag->Filename(), file) ||
          (file == command.source && command.borrowed_flags != nullptr &&
           absl::StrContains(command.borrowed_flags,
                             absl::StrCat(",", name, ",")))) {
        flags.emplace_back(std::string(name), flag);
      }
    }
    std::sort(flags.begin(), flags.end());
    std::cout << (file == command.source   ? "\nflags:\n"
                  : file == command.shared ? "\nstate and model flags:\n"
                                           : "\ncommon flags:\n");
    for (const auto& [name, flag] : flags) {
      std::string dashed = name;
      std::replace(dashed.begin(), dashed.end(), '_', '-');
      std::cout << "  --" << dashed << " (default: \"" << flag->DefaultValue()
                << "\")\n      " << flag->Help() << "\n";
    }
  }
  std::cout << "\nFlags may be written --state-dir or --state_dir; "
               "--flagfile=F reads flags from F.\n";
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
  const std::string source = command->source;
  const std::string shared = command->shared ? command->shared : source;
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [source, shared](absl::string_view file) {
    return absl::EndsWith(file, source) || absl::EndsWith(file, shared) ||
           absl::EndsWith(file, "common_flags.cc");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  config.version_string = [] {
    return std::string("encore ") + ENCORE_VERSION + "\n";
  };
  config.normalize_filename = [](absl::string_view f) {
    return std::string(f);
  };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(command->summary);

  // argv[0] for absl is "encore <subcommand>"; the rest are flags.
  std::vector<char*> args(argv + 1, argv + argc);
  std::vector<std::string> storage;
  if (absl::Status s = NormalizeArgs(args, storage); !s.ok()) {
    std::cerr << "encore " << command->name << ": " << s.message() << "\n";
    return 2;
  }
  std::string program = std::string("encore ") + command->name;
  args[0] = program.data();
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  encore::cli::ConfigureLogging();
  return command->run(positional);
}
