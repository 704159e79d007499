#include "server/server.h"

#include <unistd.h>

#include <chrono>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "grpc/grpc.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "server/security/bearer_tokens.h"
#include "server/observability/call_log_interceptor.h"
#include "server/rpc/dataset_service.h"
#include "server/rpc/sweep_service.h"
#include "server/datasets/dataset_store.h"
#include "server/observability/grpc_log.h"
#include "server/jobs/job_event_fanout.h"
#include "server/observability/job_event_log.h"
#include "server/store/postgres/postgres_datasets.h"
#include "server/store/postgres/postgres_job_store.h"
#include "server/store/sqlite_job_store.h"
#include "server/observability/metrics.h"
#include "server/conversion/spec_conversion.h"
#include "server/rpc/training_service.h"

namespace descent::server {
namespace {

// "host:port" with the port replaced by `port` (IPv6 hosts keep their brackets).
std::string WithPort(const std::string& address, int port) {
  const size_t colon = address.rfind(':');
  return absl::StrCat(colon == std::string::npos ? address : address.substr(0, colon), ":", port);
}

// How clients reach a server listening on `listen_address` at `port`, by default: the listen
// host, or this machine's hostname when that is a wildcard (0.0.0.0, [::]), which names no
// one machine.
std::string AdvertisedAddress(const std::string& listen_address, int port) {
  const size_t colon = listen_address.rfind(':');
  std::string host = colon == std::string::npos ? listen_address : listen_address.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0') host = name;
  }
  return absl::StrCat(host, ":", port);
}

// Drops gRPC's reflection plugin from one builder. The plugin is a process-wide switch, and
// its service cannot be wrapped with a token check, so a server with bearer tokens does not
// offer reflection at all rather than describing its API to anyone.
class WithoutReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    std::erase_if(*plugins, [](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
      return plugin->name() == "proto_server_reflection";
    });
  }
};

std::shared_ptr<grpc::ServerCredentials> Credentials(const std::optional<ServerTls>& tls) {
  if (!tls.has_value()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(
      tls->client_ca_pem.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                 : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = tls->client_ca_pem;
  ssl.pem_key_cert_pairs.push_back({tls->private_key_pem, tls->cert_chain_pem});
  return grpc::SslServerCredentials(ssl);
}

// Why gRPC could not listen on `address`, from what it logged while trying.
std::string ListenFailure(const std::string& address, const GrpcLogCapture& grpc_log) {
  const size_t colon = address.rfind(':');
  const std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
  if (grpc_log.Mentions("Address already in use")) {
    return absl::StrCat("--listen ", address, ": port ", port,
                        " is already in use (another descentd?); stop that process or choose "
                        "a free port with --listen (port 0 picks one)");
  }
  if (grpc_log.Mentions("Cannot assign requested address")) {
    return absl::StrCat("--listen ", address,
                        ": the host is not an address of this machine; use 0.0.0.0 (all "
                        "interfaces), 127.0.0.1 or one of its own addresses");
  }
  if (grpc_log.Mentions("Permission denied")) {
    return absl::StrCat("--listen ", address, ": not allowed to bind port ", port,
                        " (ports below 1024 need privileges); choose a port above 1023");
  }
  std::string detail = grpc_log.messages().empty() ? "" : grpc_log.messages().front();
  if (const size_t newline = detail.find('\n'); newline != std::string::npos) {
    detail.resize(newline);
  }
  return absl::StrCat("--listen ", address, ": cannot listen there", detail.empty() ? "" : " (",
                      detail, detail.empty() ? "" : ")",
                      "; use host:port with a local host and a free port (port 0 picks one)");
}

}  // namespace

Server::Server(const ServerOptions& options) : options_(options) {}

Server::~Server() { Shutdown(); }

std::string Server::job_store_location() const {
  return job_store_ != nullptr ? job_store_->location() : std::string();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  RETURN_IF_ERROR(ValidateServerOptions(options));
  std::unique_ptr<Server> server(new Server(options));
  if (options.bearer_tokens.has_value()) {
    server->tokens_ = std::make_unique<BearerTokens>(*options.bearer_tokens);
  }
  // A single box keeps uploads in its data directory; replicas in the database they share,
  // so that any of them serves any dataset (opened after the job store, which creates the
  // schema).
  if (options.job_store_url.empty() && !options.dataset_dir.empty()) {
    ASSIGN_OR_RETURN(server->datasets_, DatasetStore::Open(options.dataset_dir));
  }
  server->metrics_ = std::make_unique<ServiceMetrics>();
  if (!options.metrics_listen_address.empty()) {
    RETURN_IF_ERROR(server->metrics_->StartExposer(options.metrics_listen_address));
    server->metrics_port_ = server->metrics_->exposer_port();
    server->metrics_address_ = WithPort(options.metrics_listen_address, server->metrics_port_);
  }
  JobManagerOptions jobs = options.jobs;
  jobs.start_workers = false;  // once the address they record as Job.runner is known
  if (!options.job_store_url.empty()) {
    ASSIGN_OR_RETURN(server->job_store_, PostgresJobStore::Open(options.job_store_url,
                                                                options.jobs.lease_timeout));
    ASSIGN_OR_RETURN(std::unique_ptr<PostgresDatasets> datasets,
                     PostgresDatasets::Open(options.job_store_url, options.jobs.lease_timeout));
    server->datasets_ = std::make_unique<DatasetStore>(std::move(datasets));
  } else if (!options.job_store_path.empty()) {
    ASSIGN_OR_RETURN(server->job_store_, SqliteJobStore::Open(options.job_store_path));
  }
  if (server->job_store_ != nullptr) {
    jobs.store = server->job_store_.get();
    // A sweep's trial prepared again (recovered, or claimed from the shared store) reaches
    // its sweep's early-stopping rule as it did when the sweep submitted it.
    jobs.prepare = [datasets = server->datasets_.get(), limits = options.limits,
                    sweeps = &server->sweeps_](
                       const v1::SubmitJobRequest& request) -> absl::StatusOr<PreparedJob> {
      ASSIGN_OR_RETURN(PreparedJob job, PrepareJob(request, datasets, limits));
      if (*sweeps != nullptr) (*sweeps)->GateTrial(&job);
      return job;
    };
  }
  server->event_log_ = std::make_unique<JobEventLog>();
  server->job_events_ = std::make_unique<JobEventFanout>(
      std::vector<JobEventListener*>{server->metrics_.get(), server->event_log_.get()});
  server->jobs_ = std::make_unique<JobManager>(jobs, server->job_events_.get());
  // Before the jobs are recovered, so that the trials' jobs get their epoch gates; the sweeps
  // after them, which follow their trials' recovered jobs. The workers start below.
  server->sweeps_ = std::make_unique<SweepManager>(
      server->jobs_.get(), server->metrics_->sweep_listener(),
      [datasets = server->datasets_.get(), limits = options.limits](const v1::JobSpec& spec) {
        v1::SubmitJobRequest request;
        *request.mutable_spec() = spec;
        return PrepareJob(request, datasets, limits);
      },
      server->job_store_ != nullptr ? server->job_store_->sweeps() : nullptr);
  ASSIGN_OR_RETURN(server->recovered_jobs_, server->jobs_->Recover());
  RETURN_IF_ERROR(server->sweeps_->Recover().status());
  server->service_ = std::make_unique<TrainingService>(server->jobs_.get(), server->datasets_.get(),
                                                       options.limits, server->tokens_.get());
  server->dataset_service_ = std::make_unique<DatasetService>(
      server->datasets_.get(), server->jobs_.get(), options.limits.max_dataset_bytes,
      server->tokens_.get());
  server->sweep_service_ =
      std::make_unique<SweepService>(server->sweeps_.get(), server->tokens_.get());

  // Both are process-wide switches read when a builder is created.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default on Linux, which would let a second descentd "bind"
  // a port that is in use and split the traffic; an in-use port must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (server->tokens_ != nullptr) builder.SetOption(std::make_unique<WithoutReflection>());
  builder.AddListeningPort(options.listen_address, Credentials(options.tls), &server->port_);
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->dataset_service_.get());
  builder.RegisterService(server->sweep_service_.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(server->metrics_->MakeInterceptorFactory());
  interceptors.push_back(MakeCallLogInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  RouteGrpcLogToLog();
  {
    // gRPC logs why a bind failed as a multi-line error blob; keep it, say it in one line.
    GrpcLogCapture bind_errors;
    server->grpc_server_ = builder.BuildAndStart();
    if (server->grpc_server_ == nullptr || server->port_ == 0) {
      return absl::UnavailableError(ListenFailure(options.listen_address, bind_errors));
    }
  }
  server->address_ = WithPort(options.listen_address, server->port_);
  const std::string runner = options.advertise_address.empty()
                                 ? AdvertisedAddress(options.listen_address, server->port_)
                                 : options.advertise_address;
  server->jobs_->StartWorkers(runner);
  // On a shared store: the sweeps this replica creates, and those whose drivers died.
  server->sweeps_->StartLeasing(LeaseHolder{
      runner, absl::Uniform<int64_t>(absl::BitGen(), 1, INT64_MAX), options.jobs.lease_timeout});
  server->grpc_server_->GetHealthCheckService()->SetServingStatus(kTrainingServiceName, true);
  return server;
}

void Server::Shutdown() {
  {
    absl::MutexLock lock(&mutex_);
    if (shutdown_started_) {
      mutex_.Await(absl::Condition(&shutdown_done_));
      return;
    }
    shutdown_started_ = true;
  }
  if (grpc_server_ != nullptr) {
    grpc_server_->GetHealthCheckService()->SetServingStatus(kTrainingServiceName, false);
    grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  }
  // Jobs first: every watch stream then ends on its own with the terminal event, so the
  // gRPC shutdown below rarely has to cancel anything.
  if (jobs_ != nullptr) jobs_->Shutdown();
  // Then the sweeps, whose trial followers' watch streams the job manager has just ended.
  if (sweeps_ != nullptr) sweeps_->Shutdown();
  if (grpc_server_ != nullptr) {
    grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.shutdown_grace));
    grpc_server_->Wait();
  }
  absl::MutexLock lock(&mutex_);
  shutdown_done_ = true;
}

absl::Status Server::ReplaceBearerTokens(const std::vector<std::string>& tokens) {
  if (tokens_ == nullptr) {
    return absl::FailedPreconditionError(
        "this server runs without bearer tokens (start it with --auth-token-file)");
  }
  if (tokens.empty()) return absl::InvalidArgumentError("at least one bearer token is needed");
  tokens_->Replace(tokens);
  return absl::OkStatus();
}

void Server::Wait() {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(&shutdown_done_));
}

}  // namespace descent::server
