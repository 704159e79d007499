// Fills a job store with finished jobs, fast, through the JobStore API: the store
// bench/memory.sh starts descentd on. Every job is a SUCCEEDED 13-16-1 regression with its
// model, state events and epoch summaries; most have a short history (32 steps, 4 epochs)
// and every --long_every-th one a realistic long one (1,000 to 10,000 steps, an epoch every
// 100). A benchmark helper, not a test.
//
// Exit code: 0 when every job was written; 1 on a store error; 2 for bad flags.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/conversion/engine_to_proto.h"
#include "server/jobs/store_conversion.h"
#include "server/store/sqlite_job_store.h"

ABSL_FLAG(std::string, store, "", "the database to create or extend, e.g. DATA_DIR/descent.db");
ABSL_FLAG(int64_t, jobs, 100'000, "finished jobs to add");
ABSL_FLAG(int64_t, long_every, 10, "every this many jobs has 1,000-10,000 steps; the rest 32");

namespace {

namespace v1 = descent::v1;
using descent::server::JobStore;
using descent::server::JobWrite;
using descent::server::SqliteJobStore;
using descent::server::StoredEvent;
using descent::server::ToTimestamp;

v1::JobSpec Spec(int epochs) {
  v1::JobSpec spec;
  spec.set_name("filled");
  v1::BuiltinDataset& data = *spec.mutable_dataset()->mutable_builtin();
  data.set_name("house_prices");
  data.set_samples(256);
  spec.mutable_model()->add_hidden_layers()->set_units(16);
  spec.set_loss(v1::MEAN_SQUARED_ERROR);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(0.01);
  spec.mutable_training()->set_epochs(epochs);
  spec.mutable_training()->set_batch_size(32);
  return spec;
}

descent::store::v1::Model Model() {
  descent::server::TrainedModel model;
  model.inputs = 13;
  model.parameters.push_back({descent::Matrix(16, 13), std::vector<float>(16, 0.1f)});
  model.parameters.push_back({descent::Matrix(1, 16), std::vector<float>(1, 0.2f)});
  model.activations = {descent::Activation::kRelu, descent::Activation::kIdentity};
  for (int i = 0; i < 13; ++i) model.feature_names.push_back(absl::StrFormat("x%d", i));
  return descent::server::ToStored(model);
}

StoredEvent State(int64_t after_step, v1::JobState state, const v1::Job& job) {
  StoredEvent event;
  event.after_step = after_step;
  event.message.mutable_state()->set_state(state);
  *event.message.mutable_state()->mutable_job() = job;
  event.message.mutable_state()->mutable_job()->set_state(state);
  return event;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_store);
  const int64_t jobs = absl::GetFlag(FLAGS_jobs);
  const int64_t long_every = absl::GetFlag(FLAGS_long_every);
  if (path.empty() || jobs < 0 || long_every < 1) {
    std::fprintf(stderr, "usage: fill_store --store=PATH [--jobs=N] [--long_every=K]\n");
    return 2;
  }
  absl::StatusOr<std::unique_ptr<JobStore>> store = SqliteJobStore::Open(path);
  if (!store.ok()) {
    std::fprintf(stderr, "fill_store: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  const descent::store::v1::Model model = Model();
  const absl::Time start = absl::Now() - absl::Hours(24 * 90);
  int64_t steps_written = 0;
  for (int64_t i = 0; i < jobs; ++i) {
    const bool long_job = i % long_every == 0;
    const int64_t steps = long_job ? 1000 + (i / long_every * 7919) % 9001 : 32;
    const int64_t steps_per_epoch = long_job ? 100 : 8;
    const int epochs = static_cast<int>((steps + steps_per_epoch - 1) / steps_per_epoch);
    JobWrite write;
    write.sequence = i;
    v1::Job& job = write.job;
    job.set_id(absl::StrFormat("job-%012x", i));
    job.set_name("filled");
    job.set_state(v1::QUEUED);
    *job.mutable_create_time() = ToTimestamp(start + absl::Minutes(i));
    job.mutable_progress()->set_total_steps(steps);
    job.mutable_progress()->set_total_epochs(epochs);
    write.events.push_back(State(0, v1::QUEUED, job));
    if (absl::Status inserted = (*store)->Insert(Spec(epochs), write); !inserted.ok()) {
      std::fprintf(stderr, "fill_store: %s\n", std::string(inserted.message()).c_str());
      return 1;
    }
    write.events.clear();
    *job.mutable_start_time() = ToTimestamp(start + absl::Minutes(i) + absl::Seconds(1));
    write.events.push_back(State(0, v1::RUNNING, job));
    for (int64_t step = 1; step <= steps; ++step) {
      write.losses.push_back(1.0 / std::sqrt(static_cast<double>(step)));
      if (step % steps_per_epoch == 0 || step == steps) {
        StoredEvent epoch;
        epoch.after_step = step;
        epoch.message.mutable_epoch()->set_epoch(static_cast<int>((step - 1) / steps_per_epoch + 1));
        epoch.message.mutable_epoch()->set_last_step(step);
        epoch.message.mutable_epoch()->mutable_train()->set_loss(write.losses.back());
        write.events.push_back(std::move(epoch));
      }
    }
    job.set_state(v1::SUCCEEDED);
    *job.mutable_end_time() = ToTimestamp(start + absl::Minutes(i) + absl::Seconds(2));
    job.mutable_progress()->set_step(steps);
    job.mutable_progress()->set_epoch(epochs);
    job.set_train_loss(write.losses.back());
    write.events.push_back(State(steps, v1::SUCCEEDED, job));
    write.model = model;
    if (absl::Status written = (*store)->Write(write); !written.ok()) {
      std::fprintf(stderr, "fill_store: %s\n", std::string(written.message()).c_str());
      return 1;
    }
    steps_written += steps;
  }
  std::printf("{\"jobs\": %lld, \"steps\": %lld}\n", static_cast<long long>(jobs),
              static_cast<long long>(steps_written));
  return 0;
}
