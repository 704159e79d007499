#include "server/observability/metrics_http_server.h"

#include <microhttpd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iterator>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "prometheus/text_serializer.h"
#include "server/observability/gzip.h"
#include "server/observability/http_gate.h"
#include "server/observability/listen_socket.h"

namespace descent::server {
namespace {

constexpr std::string_view kMetricsPath = "/metrics";
// Prometheus's text exposition format, as prometheus-cpp's Exposer labelled it.
constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";
// Pending connections the kernel queues before the server thread accepts them.
constexpr int kListenBacklog = 128;
// The server thread's stack. It holds the thread's static TLS too (OpenBLAS alone declares
// 60 KB), so it is set here rather than left to RLIMIT_STACK or a library's default.
constexpr size_t kThreadStackBytes = 1024 * 1024;

// A short plain-text answer; the body is a string literal, so MHD need not copy or free it.
MHD_Result Reply(MHD_Connection* connection, unsigned int status, std::string_view body,
                 const char* allow = nullptr) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_PERSISTENT);
  if (response == nullptr) return MHD_NO;  // out of memory: MHD closes the connection
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  if (allow != nullptr) MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
  const MHD_Result queued = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return queued;
}

// Whether the request announces a body (which a scrape has no use for).
bool DeclaresBody(MHD_Connection* connection) {
  const char* length =
      MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  return (length != nullptr && std::string_view(length) != "0") ||
         MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_TRANSFER_ENCODING) != nullptr;
}

void DeleteString(void* text) { delete static_cast<std::string*>(text); }

// Leaves %XX escapes in the target as sent (MHD_UnescapeCallback). /metrics needs none, and
// decoding would let "%00" end the path early: "/metrics%00x" would be served as "/metrics".
size_t KeepEscapes(void* /*cls*/, MHD_Connection* /*connection*/, char* text) {
  return strlen(text);
}

}  // namespace

struct MetricsHttpServer::Callbacks {
  // Called once the request line and headers are in, then again (for requests we let MHD
  // read to the end) with the body's pieces and a final call with *upload_data_size == 0.
  static MHD_Result Answer(void* self, MHD_Connection* connection, const char* url,
                           const char* method, const char* /*version*/,
                           const char* /*upload_data*/, size_t* upload_data_size,
                           void** request_state) {
    const std::string_view method_name(method);
    const bool is_get = method_name == MHD_HTTP_METHOD_GET;
    const bool is_head = method_name == MHD_HTTP_METHOD_HEAD;
    // Answers queued on the first call make MHD discard any body and close the connection
    // after the answer, whatever Content-Length promised.
    if (std::string_view(url) != kMetricsPath) {
      return Reply(connection, MHD_HTTP_NOT_FOUND, "Not found: descentd serves only /metrics.\n");
    }
    if (!is_get && !is_head) {
      return Reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                   "Method not allowed: /metrics answers GET and HEAD.\n", "GET, HEAD");
    }
    if (*request_state == nullptr && !DeclaresBody(connection)) {
      // Answered on the next call, when the request is complete, so that the connection can
      // stay open for the next scrape.
      *request_state = self;
      return MHD_YES;
    }
    *upload_data_size = 0;
    return static_cast<MetricsHttpServer*>(self)->ServeMetrics(connection, is_get) ? MHD_YES
                                                                                    : MHD_NO;
  }
};

MetricsHttpServer::MetricsHttpServer(CollectFunction collect, int port)
    : collect_(std::move(collect)),
      port_(port),
      transferred_bytes_(prometheus::BuildCounter()
                             .Name("exposer_transferred_bytes_total")
                             .Help("Bytes of /metrics response bodies sent (after compression).")
                             .Register(registry_)
                             .Add({})),
      scrapes_(prometheus::BuildCounter()
                   .Name("exposer_scrapes_total")
                   .Help("GET /metrics requests answered.")
                   .Register(registry_)
                   .Add({})),
      request_latencies_(prometheus::BuildSummary()
                             .Name("exposer_request_latencies")
                             .Help("Time to collect, serialize and queue one GET /metrics "
                                   "response, in microseconds.")
                             .Register(registry_)
                             .Add({}, prometheus::Summary::Quantiles{
                                          {0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}})) {}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, CollectFunction collect, const MetricsHttpLimits& limits) {
  if (limits.max_connections == 0 || limits.max_connections_per_ip == 0 ||
      limits.idle_timeout_seconds == 0 || limits.memory_per_connection == 0) {
    return absl::InvalidArgumentError("metrics HTTP limits must all be > 0");
  }
  ASSIGN_OR_RETURN(const ListeningSocket socket, ListenTcp(address, kListenBacklog));
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer(std::move(collect), socket.port));
  // One internal thread polls every connection and answers them in turn; a client that sends
  // nothing or half a request only holds a connection slot until the idle timeout. poll(2)
  // rather than epoll: with edge-triggered epoll this version can miss an end of stream that
  // arrives with a client's last bytes, and holds the slot of a client long gone until then.
  // Connections come from the HttpGate (MHD_add_connection, hence MHD_USE_ITC to wake the
  // thread), which keeps what cannot be HTTP away from libmicrohttpd.
  server->daemon_ = MHD_start_daemon(
      MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET, /*port=*/0,
      /*apc=*/nullptr, /*apc_cls=*/nullptr, &Callbacks::Answer, server.get(),
      MHD_OPTION_CONNECTION_LIMIT, limits.max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits.max_connections_per_ip,
      MHD_OPTION_CONNECTION_TIMEOUT, limits.idle_timeout_seconds,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits.memory_per_connection,
      MHD_OPTION_THREAD_STACK_SIZE, kThreadStackBytes,
      MHD_OPTION_UNESCAPE_CALLBACK, &KeepEscapes, nullptr, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    close(socket.fd);
    return absl::UnavailableError(
        absl::StrCat("cannot start the HTTP server for ", address,
                     " (out of threads or memory?)"));
  }
  MHD_Daemon* const daemon = server->daemon_;
  ASSIGN_OR_RETURN(
      server->gate_,
      HttpGate::Start(
          socket.fd,
          [daemon](int fd, const sockaddr* peer, socklen_t peer_length) {
            // Closes `fd` itself when it cannot take it (connection limits, memory).
            MHD_add_connection(daemon, fd, peer, peer_length);
          },
          HttpGateLimits{.max_waiting = static_cast<int>(limits.max_connections),
                         .max_waiting_per_peer = static_cast<int>(limits.max_connections_per_ip),
                         .idle_timeout = absl::Seconds(limits.idle_timeout_seconds)}));
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  gate_.reset();  // no connection is handed to the daemon once it stops
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

bool MetricsHttpServer::ServeMetrics(MHD_Connection* connection, bool is_get) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<prometheus::MetricFamily> families = collect_();
  std::vector<prometheus::MetricFamily> own = registry_.Collect();
  families.insert(families.end(), std::make_move_iterator(own.begin()),
                  std::make_move_iterator(own.end()));
  auto body = std::make_unique<std::string>(prometheus::TextSerializer().Serialize(families));
  bool gzip = AcceptsGzip(
      MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
  if (gzip) {
    absl::StatusOr<std::string> compressed = GzipCompress(*body);
    gzip = compressed.ok();
    if (gzip) *body = *std::move(compressed);
  }
  const size_t size = body->size();
  MHD_Response* response = MHD_create_response_from_buffer_with_free_callback_cls(
      size, body->data(), &DeleteString, body.get());
  if (response == nullptr) return false;  // out of memory: MHD closes the connection
  body.release();                         // now the response's, freed by DeleteString
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, kMetricsContentType);
  MHD_add_response_header(response, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
  if (gzip) MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
  const MHD_Result queued = MHD_queue_response(connection, MHD_HTTP_OK, response);
  MHD_destroy_response(response);
  if (is_get && queued == MHD_YES) {
    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    request_latencies_.Observe(static_cast<double>(elapsed.count()));
    transferred_bytes_.Increment(static_cast<double>(size));
    scrapes_.Increment();
  }
  return queued == MHD_YES;
}

}  // namespace descent::server
