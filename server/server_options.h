// What one descentd serves with: addresses, limits, the job manager's options, TLS and
// tokens, and where it keeps its state. main.cc builds it from the flags (server_flags.h);
// tests build it in code. Either way ValidateServerOptions is the one place option ranges
// are checked.
#ifndef DESCENT_SERVER_SERVER_OPTIONS_H_
#define DESCENT_SERVER_SERVER_OPTIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/conversion/spec_limits.h"
#include "server/jobs/job_manager.h"
#include "server/security/server_tls.h"

namespace descent::server {

struct ServerOptions {
  std::string listen_address = "0.0.0.0:50051";  // host:port; port 0 picks a free one
  // host:port clients reach this replica at, recorded as Job.runner of the jobs it runs;
  // empty = listen_address (with the port it got, for port 0; a wildcard host becomes the
  // hostname).
  std::string advertise_address;
  // host:port of the Prometheus /metrics endpoint; empty = no endpoint (metrics are still
  // collected).
  std::string metrics_listen_address = "0.0.0.0:9464";
  // Largest request or response message, e.g. an inline dataset or a Predict batch.
  int max_message_bytes = 64 << 20;
  // On Shutdown, how long in-flight RPCs get to finish before they are cancelled.
  absl::Duration shutdown_grace = absl::Seconds(5);
  JobManagerOptions jobs;
  // Where a single box keeps uploaded datasets (DatasetService); empty = no dataset store, and
  // the service answers FAILED_PRECONDITION. Unused with job_store_url: the datasets are in
  // that database then (store/postgres/postgres_datasets.h), shared by the replicas.
  std::string dataset_dir;
  // Bounds on one job: its model, its steps, and its dataset, inline or uploaded (uploads
  // are checked while the stream arrives).
  SpecLimits limits;
  // Certificate and key (and, for mutual TLS, the client CA); nullopt = plaintext gRPC.
  std::optional<ServerTls> tls;
  // The accepted bearer tokens (non-empty); nullopt = no authentication. With tokens every
  // RPC except grpc.health.v1.Health answers UNAUTHENTICATED without a valid one, and server
  // reflection is not served (gRPC's reflection plugin offers no hook to check a token).
  std::optional<std::vector<std::string>> bearer_tokens;
  // The job store's database file (job_store.h); empty = jobs live in memory only. Its
  // directory must exist. Start loads the stored jobs and resumes the unfinished ones.
  std::string job_store_path;
  // A PostgreSQL job store instead (postgres/postgres_job_store.h):
  // postgresql://USER@HOST:PORT/DB, shared by replicas; empty = job_store_path decides.
  // Setting both is an error.
  std::string job_store_url;
};

// OK, or INVALID_ARGUMENT for the first option out of range, named by its descentd flag with
// the range and the value given: "--max-message-bytes must be > 0 (got 0)". Covers the job
// manager's options (ValidateJobManagerOptions). Server::Start refuses what this refuses.
absl::Status ValidateServerOptions(const ServerOptions& options);

}  // namespace descent::server

#endif  // DESCENT_SERVER_SERVER_OPTIONS_H_
