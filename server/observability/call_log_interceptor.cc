#include "server/observability/call_log_interceptor.h"

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/server_context.h"
#include "server/observability/log.h"

namespace descent::server {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

// Lines allowed per one-second window, and what was held back.
class LineBudget {
 public:
  // True when a line may be written now; `*skipped` = lines held back since the last one.
  bool Take(int64_t* skipped) {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - window_start_ >= absl::Seconds(1)) {
      window_start_ = now;
      used_ = 0;
    }
    if (used_ >= kMaxCallLogLinesPerSecond) {
      ++skipped_;
      return false;
    }
    ++used_;
    *skipped = skipped_;
    skipped_ = 0;
    return true;
  }

 private:
  absl::Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int used_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t skipped_ ABSL_GUARDED_BY(mu_) = 0;
};

struct CallEvent {
  const char* event = nullptr;  // null: not logged
  const char* verb = "";
  LogLevel level = LogLevel::kInfo;
};

CallEvent EventFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return {"call_refused", "refused", LogLevel::kWarning};
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
      return {"call_failed", "failed", LogLevel::kError};
    default:
      return {};
  }
}

class CallLogInterceptor : public grpc::experimental::Interceptor {
 public:
  CallLogInterceptor(ServerRpcInfo* info, LineBudget& budget) : info_(info), budget_(budget) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      if (const CallEvent event = EventFor(status.error_code()); event.event != nullptr) {
        LogCall(event, status);
      }
    }
    methods->Proceed();
  }

 private:
  void LogCall(const CallEvent& event, const grpc::Status& status) {
    int64_t skipped = 0;
    if (!budget_.Take(&skipped)) return;
    const std::string method = info_->method() == nullptr ? "?" : info_->method();
    const std::string peer =
        info_->server_context() == nullptr ? "?" : info_->server_context()->peer();
    const std::string code =
        absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
    std::string message = absl::StrCat(event.verb, " ", method, " from ", peer, ": ", code, ": ",
                                       status.error_message());
    if (skipped > 0) {
      absl::StrAppend(&message, " (", skipped, " more such calls not logged)");
    }
    Log(event.level, event.event, message,
        {{"method", method},
         {"peer", peer},
         {"code", code},
         {"error", status.error_message()},
         {"not_logged", skipped}});
  }

  ServerRpcInfo* const info_;
  LineBudget& budget_;
};

class CallLogInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new CallLogInterceptor(info, budget_);
  }

 private:
  LineBudget budget_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeCallLogInterceptorFactory() {
  return std::make_unique<CallLogInterceptorFactory>();
}

}  // namespace descent::server
