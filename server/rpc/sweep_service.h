// descent.v1.SweepService over gRPC: a thin, stateless adapter over the SweepManager
// (sweeps/sweep_manager.h), in the AuthenticatedCall frame every method runs in.
#ifndef DESCENT_SERVER_RPC_SWEEP_SERVICE_H_
#define DESCENT_SERVER_RPC_SWEEP_SERVICE_H_

#include "descent/v1/sweeps.grpc.pb.h"
#include "server/security/bearer_tokens.h"
#include "server/sweeps/sweep_manager.h"

namespace descent::server {

class SweepService final : public v1::SweepService::Service {
 public:
  // `sweeps` and `tokens` (null: no authentication) must outlive the service.
  explicit SweepService(SweepManager* sweeps, const BearerTokens* tokens = nullptr)
      : sweeps_(sweeps), tokens_(tokens) {}

  // The codes are those of the rpcs in sweeps.proto, through ToGrpcStatus; INVALID_ARGUMENT
  // naming sweep_id when it is malformed.
  grpc::Status CreateSweep(grpc::ServerContext* context, const v1::CreateSweepRequest* request,
                           v1::Sweep* response) override;
  grpc::Status GetSweep(grpc::ServerContext* context, const v1::GetSweepRequest* request,
                        v1::Sweep* response) override;
  grpc::Status ListSweeps(grpc::ServerContext* context, const v1::ListSweepsRequest* request,
                          v1::ListSweepsResponse* response) override;
  grpc::Status CancelSweep(grpc::ServerContext* context, const v1::CancelSweepRequest* request,
                           v1::Sweep* response) override;
  // Blocks this RPC's thread for the life of the stream: OK once the sweep ended, CANCELLED
  // when the client goes away, UNAVAILABLE when the server stops, UNAUTHENTICATED when the
  // stream's token is revoked.
  grpc::Status WatchSweep(grpc::ServerContext* context, const v1::WatchSweepRequest* request,
                          grpc::ServerWriter<v1::WatchSweepResponse>* writer) override;

 private:
  SweepManager* const sweeps_;
  const BearerTokens* const tokens_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_RPC_SWEEP_SERVICE_H_
