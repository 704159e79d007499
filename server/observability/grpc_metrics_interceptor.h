// gRPC server metrics in the shape of the conventional grpc_server_* families
// (go-grpc-prometheus), prefixed descent_: RPCs started and handled per method and code, and
// handling time. Server-streaming and other streaming calls get their own duration
// histogram so that hour-long WatchJob streams never distort unary latency.
#ifndef DESCENT_SERVER_OBSERVABILITY_GRPC_METRICS_INTERCEPTOR_H_
#define DESCENT_SERVER_OBSERVABILITY_GRPC_METRICS_INTERCEPTOR_H_

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/support/server_interceptor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace descent::server {

// Label values of one RPC method. Only methods whose descriptor is linked into the binary
// get their own labels; anything else is "unknown", so a client cannot grow the label set.
struct RpcLabels {
  std::string service;  // grpc_service, e.g. descent.v1.TrainingService
  std::string method;   // grpc_method, e.g. SubmitJob
  std::string type;     // grpc_type: unary, client_stream, server_stream, bidi_stream
};

// `full_method` is gRPC's "/package.Service/Method".
RpcLabels RpcLabelsFor(const char* full_method, grpc::experimental::ServerRpcInfo::Type type);

class GrpcServerMetrics {
 public:
  // Registers the families in `registry`, which must outlive this object, and creates the
  // zero-valued series (code OK) of every method of `services` (full names, e.g.
  // "descent.v1.TrainingService"), so dashboards show 0 rather than no data before the
  // first call. A service whose descriptor is not linked in is skipped.
  GrpcServerMetrics(prometheus::Registry& registry, const std::vector<std::string>& services);

  // A factory whose interceptors record into this object, which must outlive the server
  // the factory is registered with.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeInterceptorFactory();

  // One RPC began.
  void RecordStarted(const RpcLabels& rpc);
  // One RPC ended with `code` after `seconds` (unary: handling time; streaming: the
  // stream's whole duration).
  void RecordHandled(const RpcLabels& rpc, grpc::StatusCode code, double seconds);

 private:
  // The handling-time histogram of `rpc`: unary calls and streams are kept apart.
  prometheus::Histogram& HandlingSeconds(const RpcLabels& rpc);

  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& unary_seconds_;
  prometheus::Family<prometheus::Histogram>& stream_seconds_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_GRPC_METRICS_INTERCEPTOR_H_
