// A thin client of descent.v1.SweepService, returning absl::Status like DescentClient.
#ifndef DESCENT_CLIENT_SWEEP_CLIENT_H_
#define DESCENT_CLIENT_SWEEP_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/descent_client.h"
#include "descent/v1/sweeps.grpc.pb.h"
#include "grpcpp/channel.h"

namespace descent::client {

class SweepClient {
 public:
  SweepClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  // The server's status on failure (sweeps.proto): INVALID_ARGUMENT naming the field,
  // NOT_FOUND, FAILED_PRECONDITION; UNAVAILABLE when it cannot be reached.
  absl::StatusOr<v1::Sweep> Create(const v1::SweepSpec& spec);
  absl::StatusOr<v1::Sweep> Get(const std::string& id);
  absl::StatusOr<std::vector<v1::Sweep>> List();
  absl::StatusOr<v1::Sweep> Cancel(const std::string& id);

  // Streams the sweep's messages after `after_event` to `on_message` until the stream ends:
  // OK once the sweep ended (the last message is the ended sweep), else the stream's status
  // (UNAVAILABLE for a dropped stream, which can be opened again after the last event seen).
  // No deadline: a sweep runs as long as its trials.
  absl::Status Watch(const std::string& id, int64_t after_event,
                     const std::function<void(const v1::WatchSweepResponse&)>& on_message);

 private:
  ClientOptions options_;
  std::unique_ptr<v1::SweepService::Stub> stub_;
};

}  // namespace descent::client

#endif  // DESCENT_CLIENT_SWEEP_CLIENT_H_
