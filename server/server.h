// descentd as a library: builds the job manager, the gRPC server (TrainingService, the
// standard health service, server reflection, metrics interceptors, optional TLS and bearer
// tokens) and the Prometheus
// exposer from ServerOptions, and stops them in the right order. main.cc only turns flags
// into options; tests host the same Server in-process on 127.0.0.1:0.
#ifndef DESCENT_SERVER_SERVER_H_
#define DESCENT_SERVER_SERVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/jobs/job_manager.h"
#include "server/server_options.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace descent::server {

class BearerTokens;
class DatasetService;
class JobEventFanout;
class JobEventLog;
class DatasetStore;
class JobStore;
class ServiceMetrics;
class SweepManager;
class SweepService;
class TrainingService;

// The name the health service reports SERVING for while the server accepts jobs.
inline constexpr char kTrainingServiceName[] = "descent.v1.TrainingService";

class Server {
 public:
  // Starts serving. UNAVAILABLE naming the address if the gRPC or the metrics address
  // cannot be bound (in use, bad host); ValidateServerOptions' INVALID_ARGUMENT for an
  // option out of range; the job store's errors (SqliteJobStore::Open, JobManager::Recover)
  // naming the database. Nothing keeps running after a failed start.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);

  // Shutdown(), then releases everything.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound gRPC port (the chosen one when the options asked for port 0).
  int port() const { return port_; }
  // listen_address with the bound port, e.g. "127.0.0.1:41235".
  const std::string& address() const { return address_; }
  // The bound metrics port; 0 when the endpoint is off.
  int metrics_port() const { return metrics_port_; }
  // metrics_listen_address with the bound port; empty when the endpoint is off.
  const std::string& metrics_address() const { return metrics_address_; }

  // Stops in this order: health reports NOT_SERVING; the job manager stops accepting
  // submissions (UNAVAILABLE) and stops its jobs — with a job store, running jobs write a
  // checkpoint and, like queued ones, continue at the next start (their watch streams end
  // with UNAVAILABLE); without one they are cancelled (streams end with the terminal
  // event); the gRPC server stops accepting calls, gives
  // in-flight ones shutdown_grace to finish and cancels the rest; the metrics endpoint
  // closes last (on destruction). Blocks until done. Idempotent and thread-safe (e.g. from
  // a signal-handling thread while another waits in Wait()).
  void Shutdown();

  // Blocks until Shutdown() has completed.
  void Wait();

  // Accepts exactly `tokens` (non-empty) from now on. FAILED_PRECONDITION when the server
  // was started without bearer_tokens, INVALID_ARGUMENT for an empty list. Thread-safe.
  absl::Status ReplaceBearerTokens(const std::vector<std::string>& tokens);

  // Jobs loaded from the job store at start that were queued or resumed.
  int recovered_jobs() const { return recovered_jobs_; }
  // Where jobs are stored (the SQLite file, or the PostgreSQL URL without its password); ""
  // when they live in memory only.
  std::string job_store_location() const;

  // For in-process tests and benchmarks that need the manager directly.
  JobManager& job_manager() { return *jobs_; }

 private:
  explicit Server(const ServerOptions& options);

  const ServerOptions options_;
  // Destroyed bottom-up: the gRPC server before the service it calls, the service before
  // the manager, the manager before the listener it reports to.
  std::unique_ptr<ServiceMetrics> metrics_;
  std::unique_ptr<JobEventLog> event_log_;
  std::unique_ptr<JobEventFanout> job_events_;  // metrics_ and event_log_, for the manager
  std::unique_ptr<BearerTokens> tokens_;  // null: no authentication
  std::unique_ptr<DatasetStore> datasets_;
  std::unique_ptr<JobStore> job_store_;
  std::unique_ptr<JobManager> jobs_;
  std::unique_ptr<TrainingService> service_;
  std::unique_ptr<DatasetService> dataset_service_;
  std::unique_ptr<SweepManager> sweeps_;  // after jobs_: its followers watch jobs_
  std::unique_ptr<SweepService> sweep_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int port_ = 0;
  std::string address_;
  int metrics_port_ = 0;
  std::string metrics_address_;
  int recovered_jobs_ = 0;

  absl::Mutex mutex_;
  bool shutdown_started_ ABSL_GUARDED_BY(mutex_) = false;
  bool shutdown_done_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_SERVER_H_
