#include "server/rpc/sweep_service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/rpc/authenticated_call.h"

namespace descent::server {
namespace {

absl::Status ValidateSweepId(absl::string_view id) {
  if (!absl::StartsWith(id, "sweep-") || id.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sweep_id \"", id, "\" is not a sweep id (sweep- and 12 hex digits); descent sweep list "
        "shows them"));
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status SweepService::CreateSweep(grpc::ServerContext* context,
                                       const v1::CreateSweepRequest* request,
                                       v1::Sweep* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, sweeps_->Create(request->spec()));
    return absl::OkStatus();
  });
}

grpc::Status SweepService::GetSweep(grpc::ServerContext* context,
                                    const v1::GetSweepRequest* request, v1::Sweep* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateSweepId(request->sweep_id()));
    ASSIGN_OR_RETURN(*response, sweeps_->Get(request->sweep_id()));
    return absl::OkStatus();
  });
}

grpc::Status SweepService::ListSweeps(grpc::ServerContext* context,
                                      const v1::ListSweepsRequest* /*request*/,
                                      v1::ListSweepsResponse* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<v1::Sweep> sweeps, sweeps_->List());
    for (v1::Sweep& sweep : sweeps) *response->add_sweeps() = std::move(sweep);
    return absl::OkStatus();
  });
}

grpc::Status SweepService::CancelSweep(grpc::ServerContext* context,
                                       const v1::CancelSweepRequest* request,
                                       v1::Sweep* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateSweepId(request->sweep_id()));
    ASSIGN_OR_RETURN(*response, sweeps_->Cancel(request->sweep_id()));
    return absl::OkStatus();
  });
}

grpc::Status SweepService::WatchSweep(grpc::ServerContext* context,
                                      const v1::WatchSweepRequest* request,
                                      grpc::ServerWriter<v1::WatchSweepResponse>* writer) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateSweepId(request->sweep_id()));
    StreamAuthentication authentication(tokens_, *context);
    const absl::Status watched = sweeps_->Watch(
        request->sweep_id(), request->after_event(),
        [&](const v1::WatchSweepResponse& message) {
          return authentication.StillAccepted() && !context->IsCancelled() &&
                 writer->Write(message);
        },
        [&] { return authentication.StillAccepted() && !context->IsCancelled(); });
    RETURN_IF_ERROR(authentication.status());
    return watched;
  });
}

}  // namespace descent::server
