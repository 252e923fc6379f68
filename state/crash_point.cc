#include "state/crash_point.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace encore {
namespace {

struct Armed {
  std::string name;
  long remaining = 0;
  int signal = SIGKILL;
};

// nullptr when no crash point is armed (the common case).
const Armed* ArmedPoint() {
  static const Armed* armed = []() -> const Armed* {
    int signal = SIGKILL;
    const char* spec = std::getenv("ENCORE_TEST_CRASH_AT");
    if (spec == nullptr || *spec == '\0') {
      spec = std::getenv("ENCORE_TEST_STOP_AT");
      signal = SIGSTOP;
    }
    if (spec == nullptr || *spec == '\0') return nullptr;
    const char* colon = std::strrchr(spec, ':');
    auto* a = new Armed();
    a->name = colon ? std::string(spec, colon - spec) : std::string(spec);
    a->remaining = colon ? std::strtol(colon + 1, nullptr, 10) : 1;
    a->signal = signal;
    return a;
  }();
  return armed;
}

std::atomic<long> hits{0};

}  // namespace

void CrashPoint(const char* name) {
  const Armed* armed = ArmedPoint();
  if (armed == nullptr || armed->name != name) return;
  // Once only: a stopped process continued goes on past the point.
  if (hits.fetch_add(1) + 1 == armed->remaining) ::raise(armed->signal);
}

}  // namespace encore
