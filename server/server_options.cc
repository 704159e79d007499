#include "server/server_options.h"

#include <cstdint>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/store/postgres/postgres_datasets.h"

namespace descent::server {

absl::Status ValidateServerOptions(const ServerOptions& options) {
  if (options.listen_address.empty()) {
    return absl::InvalidArgumentError(
        "--listen must be set: host:port (port 0 picks a free one)");
  }
  for (const auto& [flag, value] :
       {std::pair<const char*, int64_t>{"max-message-bytes", options.max_message_bytes},
        {"max-dataset-bytes", options.limits.max_dataset_bytes},
        {"max-model-parameters", options.limits.max_model_parameters},
        {"max-steps-per-job", options.limits.max_steps_per_job}}) {
    if (value <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be > 0 (got ", value, ")"));
    }
  }
  if (options.bearer_tokens.has_value() && options.bearer_tokens->empty()) {
    return absl::InvalidArgumentError(
        "--auth-token-file holds no token; add one token per line, or leave the flag out to "
        "run without authentication");
  }
  if (!options.job_store_url.empty()) {
    if (!absl::StartsWith(options.job_store_url, "postgresql://") &&
        !absl::StartsWith(options.job_store_url, "postgres://")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--store must be a PostgreSQL URL, postgresql://USER@HOST:PORT/DB (got '",
          options.job_store_url, "'); leave it out to keep jobs in --data-dir"));
    }
    if (!options.job_store_path.empty()) {
      return absl::InvalidArgumentError(
          "--store and a job store file were both given; a descentd keeps its jobs in one store");
    }
    // Uploads live in the database then, one bytea value each.
    if (options.limits.max_dataset_bytes > kMaxPostgresDatasetBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--max-dataset-bytes must be at most ", kMaxPostgresDatasetBytes,
          " with a PostgreSQL --store, which keeps each uploaded dataset in one value (got ",
          options.limits.max_dataset_bytes, ")"));
    }
  }
  return ValidateJobManagerOptions(options.jobs);
}

}  // namespace descent::server
