// The service limits descentd's flags set on one job, so a single job cannot take the whole
// machine. PrepareJob (spec_conversion.h) enforces them: a job beyond one is
// INVALID_ARGUMENT (the spec asks for more than this server runs, so a retry cannot
// succeed), naming the limit, the job's value and the flag that raises it.
#ifndef DESCENT_SERVER_CONVERSION_SPEC_LIMITS_H_
#define DESCENT_SERVER_CONVERSION_SPEC_LIMITS_H_

#include <cstdint>

namespace descent::server {

struct SpecLimits {
  // Weights and biases of the whole network (--max-model-parameters; 50M is ~200 MB of
  // float32 before optimizer state).
  int64_t max_model_parameters = 50'000'000;
  // epochs x batches per epoch (--max-steps-per-job): every step's loss is kept for
  // watchers (16 bytes a step).
  int64_t max_steps_per_job = 10'000'000;
  // A dataset's bytes (--max-dataset-bytes): the wire size of spec.dataset.inline here; the
  // DatasetService applies the same bound to CSV uploads while they stream in.
  int64_t max_dataset_bytes = 256 << 20;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_SPEC_LIMITS_H_
