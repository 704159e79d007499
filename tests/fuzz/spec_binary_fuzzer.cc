// SubmitJobRequest as it arrives on the wire: any bytes protobuf accepts, then the
// submit-time validation and conversion (PrepareJob). Reaches what JSON cannot express
// compactly (odd field combinations, large repeated fields, unknown enum values).
// Contract: PrepareJob fails only with INVALID_ARGUMENT, or FAILED_PRECONDITION for an
// uploaded-dataset reference (no store here).
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "descent/v1/training.pb.h"
#include "server/conversion/spec_conversion.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  descent::v1::SubmitJobRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<descent::server::PreparedJob> job = descent::server::PrepareJob(request);
  if (!job.ok()) {
    descent::fuzz::CheckErrorContract(
        job.status(),
        {absl::StatusCode::kInvalidArgument, absl::StatusCode::kFailedPrecondition});
  }
  return 0;
}
