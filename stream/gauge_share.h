// GaugeShare: one part's share of a process-wide gauge that several parts
// add to. Each worker's processor shows its own cached users, dirty bytes,
// assigned partitions... in the process's one gauge of each: Show(v) moves
// the gauge by the change since what this share showed last, so the gauge
// is the sum of every share's last value. Destroyed, a share withdraws
// what it showed.
//
//   GaugeShare cached(&metrics->cached_users);
//   cached.Show(1200);  // the gauge goes up by 1200
//   cached.Show(1000);  // down by 200
//
// Thread safety: one thread per share; shares of one gauge may be used
// from different threads (the gauge's increments are atomic).
#ifndef ENCORE_STREAM_GAUGE_SHARE_H_
#define ENCORE_STREAM_GAUGE_SHARE_H_

#include "prometheus/gauge.h"

namespace encore {

class GaugeShare {
 public:
  // `gauge` is not owned and must outlive the share.
  explicit GaugeShare(prometheus::Gauge* gauge) : gauge_(gauge) {}
  ~GaugeShare() { Show(0); }
  GaugeShare(const GaugeShare&) = delete;
  GaugeShare& operator=(const GaugeShare&) = delete;

  void Show(double value) {
    gauge_->Increment(value - shown_);
    shown_ = value;
  }
  double shown() const { return shown_; }

 private:
  prometheus::Gauge* const gauge_;
  double shown_ = 0;
};

}  // namespace encore

#endif  // ENCORE_STREAM_GAUGE_SHARE_H_
