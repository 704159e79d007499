#include "server/observability/grpc_metrics_interceptor.h"

#include <chrono>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/support/interceptor.h"
#include "grpcpp/support/status.h"

namespace descent::server {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

// Unary calls: sub-millisecond to a few seconds.
const prometheus::Histogram::BucketBoundaries kUnaryBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
// Streams live as long as the watched job: up to a day.
const prometheus::Histogram::BucketBoundaries kStreamBuckets = {
    0.01, 0.1, 1, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400};

const char* TypeName(ServerRpcInfo::Type type) {
  switch (type) {
    case ServerRpcInfo::Type::UNARY:
      return "unary";
    case ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

// gRPC and Abseil share the canonical code numbering, so Abseil's names are gRPC's.
std::string CodeName(grpc::StatusCode code) {
  const int value = static_cast<int>(code);
  if (value < 0 || value > static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) return "UNKNOWN";
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(value));
}

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(GrpcServerMetrics& metrics, RpcLabels labels)
      : metrics_(metrics), labels_(std::move(labels)), start_(std::chrono::steady_clock::now()) {
    metrics_.RecordStarted(labels_);
  }

  // A call torn down without sending a status (the client went away, the server shut
  // down) still counts, as CANCELLED, so started and handled totals agree.
  ~MetricsInterceptor() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        !recorded_) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    metrics_.RecordHandled(labels_, code, elapsed.count());
  }

  GrpcServerMetrics& metrics_;
  const RpcLabels labels_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;  // hooks of one call never run concurrently
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GrpcServerMetrics& metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, RpcLabelsFor(info->method(), info->type()));
  }

 private:
  GrpcServerMetrics& metrics_;
};

}  // namespace

RpcLabels RpcLabelsFor(const char* full_method, ServerRpcInfo::Type type) {
  RpcLabels labels{"unknown", "unknown", TypeName(type)};
  if (full_method == nullptr) return labels;
  std::string_view path = full_method;
  if (path.empty() || path.front() != '/') return labels;
  path.remove_prefix(1);
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos) return labels;
  const std::string service(path.substr(0, slash));
  const std::string method(path.substr(slash + 1));
  const google::protobuf::MethodDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(service + "." + method);
  if (descriptor == nullptr) return labels;
  labels.service = service;
  labels.method = method;
  return labels;
}

GrpcServerMetrics::GrpcServerMetrics(prometheus::Registry& registry,
                                     const std::vector<std::string>& services)
    : started_(prometheus::BuildCounter()
                   .Name("descent_grpc_server_started_total")
                   .Help("RPCs started on the server, by method.")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name("descent_grpc_server_handled_total")
                   .Help("RPCs completed on the server, by method and status code.")
                   .Register(registry)),
      unary_seconds_(prometheus::BuildHistogram()
                         .Name("descent_grpc_server_handling_seconds")
                         .Help("Time to handle a unary RPC, from its start to its status.")
                         .Register(registry)),
      stream_seconds_(prometheus::BuildHistogram()
                          .Name("descent_grpc_server_stream_duration_seconds")
                          .Help("Lifetime of a streaming RPC (e.g. WatchJob), from its start "
                                "to its status; kept apart from unary latency.")
                          .Register(registry)) {
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* method = service->method(i);
      ServerRpcInfo::Type type = ServerRpcInfo::Type::UNARY;
      if (method->client_streaming() && method->server_streaming()) {
        type = ServerRpcInfo::Type::BIDI_STREAMING;
      } else if (method->client_streaming()) {
        type = ServerRpcInfo::Type::CLIENT_STREAMING;
      } else if (method->server_streaming()) {
        type = ServerRpcInfo::Type::SERVER_STREAMING;
      }
      const RpcLabels rpc{name, method->name(), TypeName(type)};
      const prometheus::Labels labels = {
          {"grpc_service", rpc.service}, {"grpc_method", rpc.method}, {"grpc_type", rpc.type}};
      started_.Add(labels);
      prometheus::Labels handled_labels = labels;
      handled_labels["grpc_code"] = "OK";
      handled_.Add(handled_labels);
      HandlingSeconds(rpc);
    }
  }
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcServerMetrics::MakeInterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(*this);
}

void GrpcServerMetrics::RecordStarted(const RpcLabels& rpc) {
  started_
      .Add({{"grpc_service", rpc.service}, {"grpc_method", rpc.method}, {"grpc_type", rpc.type}})
      .Increment();
}

void GrpcServerMetrics::RecordHandled(const RpcLabels& rpc, grpc::StatusCode code, double seconds) {
  handled_
      .Add({{"grpc_service", rpc.service},
            {"grpc_method", rpc.method},
            {"grpc_type", rpc.type},
            {"grpc_code", CodeName(code)}})
      .Increment();
  HandlingSeconds(rpc).Observe(seconds);
}

prometheus::Histogram& GrpcServerMetrics::HandlingSeconds(const RpcLabels& rpc) {
  const prometheus::Labels labels = {
      {"grpc_service", rpc.service}, {"grpc_method", rpc.method}, {"grpc_type", rpc.type}};
  if (rpc.type == "unary") return unary_seconds_.Add(labels, kUnaryBuckets);
  return stream_seconds_.Add(labels, kStreamBuckets);
}

}  // namespace descent::server
