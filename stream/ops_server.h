// OpsServer: the HTTP listener on-call tooling talks to (civetweb):
//   GET /metrics  Prometheus text format of the registry
//   GET /healthz  200 "alive" unless a fatal error stopped the process
//   GET /readyz   200 "ready", or 503 with the reason (see Health)
#ifndef ENCORE_STREAM_OPS_SERVER_H_
#define ENCORE_STREAM_OPS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "state/clock.h"
#include "stream/health.h"
#include "stream/metrics.h"

namespace encore {

class OpsServer {
 public:
  // Listens on `listen` ("host:port"; port 0 is not supported). `metrics`,
  // `health` and `clock` are not owned and must outlive the server.
  static absl::StatusOr<std::unique_ptr<OpsServer>> Start(
      const std::string& listen, Metrics* metrics, Health* health,
      Clock* clock);
  ~OpsServer();

 private:
  struct Impl;
  explicit OpsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore

#endif  // ENCORE_STREAM_OPS_SERVER_H_
