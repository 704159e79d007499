// Job files as a user writes them: JSON through the CLI's ParseJobSpec (the checker that
// names line, column and fix, then protobuf's parser), then the server's submit-time
// validation and conversion (PrepareJob): the path of `descent submit job.json`.
// Contract: parsing fails only with INVALID_ARGUMENT; PrepareJob fails only with
// INVALID_ARGUMENT, or FAILED_PRECONDITION for an uploaded-dataset reference (no store here).
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "descent/v1/training.pb.h"
#include "client/input_files.h"
#include "server/conversion/spec_conversion.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using descent::fuzz::CheckErrorContract;
  const std::string json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<descent::v1::JobSpec> spec = descent::client::ParseJobSpec(json, "job.json");
  if (!spec.ok()) {
    CheckErrorContract(spec.status(), {absl::StatusCode::kInvalidArgument});
    return 0;
  }
  descent::v1::SubmitJobRequest request;
  *request.mutable_spec() = *std::move(spec);
  absl::StatusOr<descent::server::PreparedJob> job = descent::server::PrepareJob(request);
  if (!job.ok()) {
    CheckErrorContract(job.status(), {absl::StatusCode::kInvalidArgument,
                                      absl::StatusCode::kFailedPrecondition});
  }
  return 0;
}
