#include "tests/testing/kafka_env.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "state/status_macros.h"

namespace encore::testing {

std::string TestBrokers() {
  const char* b = std::getenv("ENCORE_TEST_BROKERS");
  return b != nullptr && *b ? b : "127.0.0.1:19092";
}

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return absl::StrCat(
      prefix, "-", getpid(), "-", counter.fetch_add(1), "-",
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

absl::StatusOr<std::vector<ConsumedRecord>> ReadTopic(const std::string& topic,
                                                      size_t count,
                                                      int timeout_ms) {
  KafkaClientConfig client{TestBrokers(), {}};
  ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                   BuildKafkaConf(client, {{"group.id", UniqueName("reader")},
                                           {"enable.auto.commit", "false"}}));
  char err[512];
  rd_kafka_t* raw = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (raw == nullptr) return absl::InternalError(err);
  KafkaHandle rk(raw);
  rd_kafka_poll_set_consumer(raw);
  ASSIGN_OR_RETURN(std::vector<int32_t> partitions,
                   TopicPartitions(raw, topic, 10000));
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (int32_t p : partitions) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(raw, list);
  rd_kafka_topic_partition_list_destroy(list);

  std::vector<ConsumedRecord> out;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(raw, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ConsumedRecord r;
      r.partition = m->partition;
      r.offset = m->offset;
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
      r.payload.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
             RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          r.headers[name] = std::string(static_cast<const char*>(value), size);
        }
      }
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(raw);
  return out;
}

std::string EncoreBinary() { return ENCORE_BINARY; }

absl::StatusOr<ChildProcess> ChildProcess::Start(
    const std::vector<std::string>& args, const std::string& log_path,
    const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> argv_storage = {EncoreBinary()};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The environment is built before fork: the child only execs.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& [name, value] : env)
    env_storage.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return ChildProcess(pid);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int ChildProcess::ExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  return 128 + WTERMSIG(wait_status);
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
  pid_ = -1;
  exit_code_ = ExitCode(status);
  return false;
}

absl::StatusOr<int> ChildProcess::Wait(int timeout_ms) {
  if (exit_code_.has_value()) {
    const int code = *exit_code_;
    exit_code_.reset();
    return code;
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (pid_ > 0) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return ExitCode(status);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
      return absl::DeadlineExceededError("child did not exit in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::FailedPreconditionError("no child");
}

absl::StatusOr<int> RunEncore(const std::vector<std::string>& args,
                              const std::string& log_path, int timeout_ms) {
  ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Start(args, log_path));
  return child.Wait(timeout_ms);
}

}  // namespace encore::testing
