// Clock: the wall-clock seam. Event-time logic never uses it; it paces
// commits and snapshots and stamps created_at. Tests pass a FakeClock.
#ifndef ENCORE_STATE_CLOCK_H_
#define ENCORE_STATE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace encore {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (realtime) for stamps.
  virtual int64_t NowMs() = 0;
  // Milliseconds on a monotonic clock, for intervals.
  virtual int64_t MonotonicMs() = 0;
};

// The process's real clocks. Thread-safe; the instance lives forever.
Clock* SystemClock();

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 0) : now_ms_(now_ms) {}
  int64_t NowMs() override { return now_ms_.load(); }
  int64_t MonotonicMs() override { return now_ms_.load(); }
  void AdvanceMs(int64_t ms) { now_ms_.fetch_add(ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace encore

#endif  // ENCORE_STATE_CLOCK_H_
