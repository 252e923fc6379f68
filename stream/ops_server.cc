#include "stream/ops_server.h"

#include <CivetServer.h>
#include <netdb.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>

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
    // As of now: workers set it after each commit, and two of them may
    // finish theirs in either order.
    metrics_->store_healthy.Set(health_->StoreHealthy() ? 1 : 0);
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

// Opens and closes one TCP connection to host:port (best effort).
void ConnectOnce(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    const bool connected = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    close(fd);
    if (connected) break;
  }
  freeaddrinfo(found);
}

}  // namespace

struct OpsServer::Impl {
  std::string host;  // where a local client reaches the listening socket
  std::string port;
  std::unique_ptr<CivetServer> server;
  std::unique_ptr<MetricsHandler> metrics;
  std::unique_ptr<HealthHandler> healthz;
  std::unique_ptr<HealthHandler> readyz;
};

OpsServer::OpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

OpsServer::~OpsServer() {
  if (!impl_->server) return;
  // civetweb's listening thread looks for a stop only between two polls of
  // its sockets, each of which waits up to 2 s for a connection: a process
  // stopping would wait that long after everything else was done. While
  // close() waits, connections to the socket wake the thread.
  std::atomic<bool> closed{false};
  std::thread waker([this, &closed] {
    for (int i = 0; i < 300 && !closed.load(); ++i) {  // bounded: ~3 s
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ConnectOnce(impl_->host, impl_->port);
    }
  });
  impl_->server->close();
  closed = true;
  waker.join();
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
  // "host:port", "[v6]:port" or "port"; a wildcard is reached locally.
  const size_t colon = listen.rfind(':');
  impl->port = colon == std::string::npos ? listen : listen.substr(colon + 1);
  impl->host = colon == std::string::npos ? "" : listen.substr(0, colon);
  if (impl->host.size() >= 2 && impl->host.front() == '[') {
    impl->host = impl->host.substr(1, impl->host.size() - 2);
  }
  if (impl->host.empty() || impl->host == "0.0.0.0") impl->host = "127.0.0.1";
  if (impl->host == "::") impl->host = "::1";
  impl->metrics = std::make_unique<MetricsHandler>(metrics, health, clock);
  impl->healthz = std::make_unique<HealthHandler>(health, clock, false);
  impl->readyz = std::make_unique<HealthHandler>(health, clock, true);
  impl->server->addHandler("/metrics", impl->metrics.get());
  impl->server->addHandler("/healthz", impl->healthz.get());
  impl->server->addHandler("/readyz", impl->readyz.get());
  return std::unique_ptr<OpsServer>(new OpsServer(std::move(impl)));
}

}  // namespace encore
