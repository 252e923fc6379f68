#include "stream/ops_server.h"

#include <CivetServer.h>
#include <prometheus/text_serializer.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace encore {
namespace {

void Reply(mg_connection* conn, int code, const std::string& content_type,
           const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n",
            code, code == 200 ? "OK" : "Service Unavailable",
            content_type.c_str(), body.size());
  mg_write(conn, body.data(), body.size());
}

class MetricsHandler : public CivetHandler {
 public:
  MetricsHandler(Metrics* metrics, Health* health, Clock* clock)
      : metrics_(metrics), health_(health), clock_(clock) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    metrics_->ready.Set(health_->Ready(clock_->MonotonicMs()).ok ? 1 : 0);
    prometheus::TextSerializer serializer;
    Reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
          serializer.Serialize(metrics_->registry().Collect()));
    return true;
  }

 private:
  Metrics* metrics_;
  Health* health_;
  Clock* clock_;
};

class HealthHandler : public CivetHandler {
 public:
  HealthHandler(Health* health, Clock* clock, bool readiness)
      : health_(health), clock_(clock), readiness_(readiness) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    Health::Verdict v =
        readiness_ ? health_->Ready(clock_->MonotonicMs()) : health_->Alive();
    Reply(conn, v.ok ? 200 : 503, "text/plain; charset=utf-8", v.reason + "\n");
    return true;
  }

 private:
  Health* health_;
  Clock* clock_;
  bool readiness_;
};

}  // namespace

struct OpsServer::Impl {
  std::unique_ptr<CivetServer> server;
  std::unique_ptr<MetricsHandler> metrics;
  std::unique_ptr<HealthHandler> healthz;
  std::unique_ptr<HealthHandler> readyz;
};

OpsServer::OpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

OpsServer::~OpsServer() {
  if (impl_->server) impl_->server->close();
}

absl::StatusOr<std::unique_ptr<OpsServer>> OpsServer::Start(
    const std::string& listen, Metrics* metrics, Health* health, Clock* clock) {
  auto impl = std::make_unique<Impl>();
  std::vector<std::string> options = {"listening_ports", listen, "num_threads",
                                      "2"};
  try {
    impl->server = std::make_unique<CivetServer>(options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen,
        " (port in use, or not an address of this host): ", e.what()));
  }
  impl->metrics = std::make_unique<MetricsHandler>(metrics, health, clock);
  impl->healthz = std::make_unique<HealthHandler>(health, clock, false);
  impl->readyz = std::make_unique<HealthHandler>(health, clock, true);
  impl->server->addHandler("/metrics", impl->metrics.get());
  impl->server->addHandler("/healthz", impl->healthz.get());
  impl->server->addHandler("/readyz", impl->readyz.get());
  return std::unique_ptr<OpsServer>(new OpsServer(std::move(impl)));
}

}  // namespace encore
