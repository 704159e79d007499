// The HTTP server behind --metrics-listen: GET (and HEAD) /metrics answers with the Prometheus
// text exposition of a collect function, serialized by prometheus-cpp's TextSerializer.
//
// Served by libmicrohttpd rather than prometheus-cpp's Exposer (civetweb), whose worker threads
// have a fixed 100 KB stack that OpenBLAS's 60 KB of static TLS leaves too small for civetweb's
// own error pages: any request but GET /metrics crashed the process. Here one polling thread,
// on a stack of a size we choose, serves every connection without blocking on any of them, and
// connections are bounded in number, idle time and memory, so stalled or hostile clients cannot
// starve scrapes for longer than the idle timeout or grow the process. An HttpGate in front
// answers at once what cannot be HTTP (http_gate.h).
#ifndef DESCENT_SERVER_OBSERVABILITY_METRICS_HTTP_SERVER_H_
#define DESCENT_SERVER_OBSERVABILITY_METRICS_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "prometheus/summary.h"
#include "server/observability/http_gate.h"

struct MHD_Connection;
struct MHD_Daemon;

namespace descent::server {

struct MetricsHttpLimits {
  // Open connections at once, and from one client address. Connections past either limit are
  // closed as soon as they are accepted. Connections that have sent nothing yet are counted
  // apart (HttpGate), against the same numbers.
  unsigned max_connections = 256;
  unsigned max_connections_per_ip = 32;
  // A connection with no traffic for this long is closed (whole seconds, > 0).
  unsigned idle_timeout_seconds = 10;
  // Buffer for one connection's request line and headers; a longer request gets 414 or 431.
  size_t memory_per_connection = 32 * 1024;
};

class MetricsHttpServer {
 public:
  using CollectFunction = std::function<std::vector<prometheus::MetricFamily>()>;

  // Listens on `address` (host:port, [v6]:port; port 0 picks a free port) and serves:
  //   GET /metrics, HEAD /metrics   200, collect()'s families and this server's own exposer_*
  //                                 families (gzip when the client accepts it)
  //   any method on another path    404
  //   other methods on /metrics     405 with Allow: GET, HEAD
  //   input that cannot start HTTP  400 at once (a TLS ClientHello, binary bytes: HttpGate)
  //   malformed or oversized input  400 / 413 / 414 / 431 from libmicrohttpd, or the connection
  //                                 is closed
  // `collect` is called on the server's thread, one scrape at a time, until the destructor
  // returns. INVALID_ARGUMENT for a malformed address or unknown host; UNAVAILABLE when the
  // address cannot be bound or the server thread cannot start.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& address, CollectFunction collect, const MetricsHttpLimits& limits = {});

  // Closes the listening socket and every connection; waits for a scrape in progress.
  ~MetricsHttpServer();

  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The bound port.
  int port() const { return port_; }

 private:
  MetricsHttpServer(CollectFunction collect, int port);

  // Holds libmicrohttpd's request callback, which calls ServeMetrics.
  struct Callbacks;
  // Answers GET or HEAD /metrics; the exposer_* families count GETs only.
  bool ServeMetrics(MHD_Connection* connection, bool is_get);

  const CollectFunction collect_;
  const int port_;
  // The exposer_* families, under the names and units prometheus-cpp's Exposer gave them.
  prometheus::Registry registry_;
  prometheus::Counter& transferred_bytes_;
  prometheus::Counter& scrapes_;
  prometheus::Summary& request_latencies_;
  MHD_Daemon* daemon_ = nullptr;
  std::unique_ptr<HttpGate> gate_;  // accepts connections and hands them to daemon_
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_METRICS_HTTP_SERVER_H_
