// Shared pieces of the `encore` subcommands: common flags, the subcommand
// table and small output helpers.
#ifndef ENCORE_STREAM_CLI_COMMON_H_
#define ENCORE_STREAM_CLI_COMMON_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "stream/kafka_client.h"

ABSL_DECLARE_FLAG(std::string, brokers);
ABSL_DECLARE_FLAG(std::string, topic);
ABSL_DECLARE_FLAG(std::string, snapshot_dir);
ABSL_DECLARE_FLAG(std::string, checkpoint_store);
ABSL_DECLARE_FLAG(std::vector<std::string>, kafka_config);
ABSL_DECLARE_FLAG(std::string, kafka_config_file);
ABSL_DECLARE_FLAG(std::string, log_format);
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(bool, verify);
ABSL_DECLARE_FLAG(std::string, user);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(std::string, log_level);

namespace encore::cli {

// A subcommand: argv[0] is the subcommand's name; flags are parsed already.
int RunCommand(const std::vector<char*>& args);
int ReadCommand(const std::vector<char*>& args);
int ScoreCommand(const std::vector<char*>& args);
int SnapshotCommand(const std::vector<char*>& args);
int GenCommand(const std::vector<char*>& args);
int BackfillCommand(const std::vector<char*>& args);
int ProduceCommand(const std::vector<char*>& args);
int OpeCommand(const std::vector<char*>& args);

// Prints "encore <command>: <reason>" to stderr and returns exit code 2
// (bad use) or 1 (runtime failure, for a non-OK status).
int UsageError(const std::string& command, const std::string& reason);
int Failure(const std::string& command, const absl::Status& status);

// Flag checks for usage errors, each naming the flag as --dashed-name:
// OK, or InvalidArgument "--<flag> must be one of a, b, c (got 'x')".
absl::Status CheckOneOf(const std::string& flag, const std::string& value,
                        const std::vector<std::string>& allowed);
// OK, or InvalidArgument "--<flag> must be >= min (got v)"; NaN fails.
absl::Status CheckAtLeast(const std::string& flag, double value, double min);
// OK, or InvalidArgument "--<flag> must be > min (got v)"; NaN fails.
absl::Status CheckAbove(const std::string& flag, double value, double min);

// OK if `value` is empty (disabled) or host:port with a port in 1..65535;
// else InvalidArgument naming --<flag>.
absl::Status CheckListenAddress(const std::string& flag,
                                const std::string& value);

// Records that flag `name` (underscore form) was given on the command line
// or in a --flagfile (main() does, for each one); FlagGiven() asks.
void RecordFlagGiven(const std::string& name);
bool FlagGiven(const std::string& name);

// Records one --kafka-config value (main() collects them from argv).
void AddKafkaConfigArg(std::string key_value);

// "name=value ..." for the flags defined in `source_files` and the common
// ones, secrets masked: the effective configuration, for the start-up log.
std::string EffectiveConfiguration(
    const std::vector<std::string>& source_files);

// --brokers plus --kafka-config-file plus every --kafka-config, or
// InvalidArgument.
absl::StatusOr<KafkaClientConfig> ClientConfigFromFlags();

// Sets spdlog's level from --log-level and format from --log-format (text,
// or json: one JSON object per line) and sends logs to stderr.
// InvalidArgument (nothing changed) for a level or format it does not know.
absl::Status ConfigureLogging();

}  // namespace encore::cli

#endif  // ENCORE_STREAM_CLI_COMMON_H_
