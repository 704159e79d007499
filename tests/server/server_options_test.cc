// descentd's options: one validation for flags and in-code options alike, naming the flag and
// the value, and the command line turned into those options.
#include "server/server_options.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/server_flags.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::HasSubstr;

// absl flags are process-wide: every parse starts from the values these set, so a flag an
// earlier parse broke does not shadow the one under test.
absl::StatusOr<DescentdConfig> Parse(std::vector<std::string> args) {
  std::vector<std::string> all = {"--data-dir=d", "--store=", "--checkpoint-every-seconds=30",
                                  "--retain-finished-for=0", "--tls-key=", "--tls-cert="};
  all.insert(all.end(), args.begin(), args.end());
  return ParseDescentdFlags(all);
}

TEST(ServerOptionsTest, TheDefaultsAreValid) {
  ASSERT_OK(ValidateServerOptions(ServerOptions{}));
  ASSERT_OK(ValidateJobManagerOptions(JobManagerOptions{}));
}

TEST(ServerOptionsTest, AnOptionOutOfRangeIsNamedByItsFlagWithTheValue) {
  struct Case {
    void (*set)(ServerOptions&);
    std::string expected;
  };
  const std::vector<Case> cases = {
      {[](ServerOptions& o) { o.listen_address.clear(); }, "--listen must be set"},
      {[](ServerOptions& o) { o.max_message_bytes = 0; }, "--max-message-bytes must be > 0 (got 0)"},
      {[](ServerOptions& o) { o.limits.max_dataset_bytes = -1; },
       "--max-dataset-bytes must be > 0 (got -1)"},
      {[](ServerOptions& o) { o.limits.max_model_parameters = 0; },
       "--max-model-parameters must be > 0"},
      {[](ServerOptions& o) { o.limits.max_steps_per_job = 0; }, "--max-steps-per-job must be > 0"},
      {[](ServerOptions& o) { o.bearer_tokens.emplace(); }, "--auth-token-file holds no token"},
      {[](ServerOptions& o) { o.jobs.workers = -1; }, "--workers must be >= 0 (got -1)"},
      {[](ServerOptions& o) { o.jobs.max_queued_jobs = 0; }, "--max-queued-jobs must be >= 1"},
      {[](ServerOptions& o) { o.jobs.max_watchers_per_job = 0; },
       "--max-watchers-per-job must be > 0"},
      {[](ServerOptions& o) { o.jobs.heartbeat_interval = absl::ZeroDuration(); },
       "--heartbeat-interval must be > 0 (got 0)"},
      {[](ServerOptions& o) { o.jobs.checkpoint_every_steps = 0; },
       "--checkpoint-every-steps must be >= 1"},
      {[](ServerOptions& o) { o.jobs.checkpoint_every = absl::Seconds(-1); },
       "--checkpoint-every-seconds must be > 0 (got -1s)"},
      {[](ServerOptions& o) { o.jobs.retain_finished_jobs = -2; },
       "--retain-finished-jobs must be >= 0 (got -2); 0 keeps every job"},
      {[](ServerOptions& o) { o.jobs.retain_finished_for = absl::Hours(-1); },
       "--retain-finished-for must be >= 0"},
      {[](ServerOptions& o) { o.jobs.max_points_per_message = 0; },
       "max_points_per_message must be >= 1 (got 0)"},
  };
  for (const Case& c : cases) {
    ServerOptions options;
    c.set(options);
    EXPECT_THAT(ValidateServerOptions(options),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.expected)))
        << c.expected;
  }
}

TEST(ServerOptionsTest, FlagsBecomeOptionsUnderTheDataDir) {
  absl::StatusOr<DescentdConfig> config = Parse(
      {"--data-dir=/srv/descent", "--workers=0", "--checkpoint-every-seconds=2.5",
       "--retain-finished-for=30d", "--log-format=json", "--max-queued-jobs", "7"});
  ASSERT_OK(config);
  EXPECT_EQ(config->data_dir, "/srv/descent");
  EXPECT_EQ(config->options.job_store_path, "/srv/descent/descent.db");
  EXPECT_EQ(config->options.dataset_dir, "/srv/descent/datasets");
  EXPECT_GE(config->options.jobs.workers, 1);  // 0 = one per available core
  EXPECT_EQ(config->options.jobs.max_queued_jobs, 7);
  EXPECT_EQ(config->options.jobs.checkpoint_every, absl::Milliseconds(2500));
  EXPECT_EQ(config->options.jobs.retain_finished_for, absl::Hours(24 * 30));
  EXPECT_EQ(config->log_format, LogFormat::kJson);
  EXPECT_FALSE(config->options.tls.has_value());
}

TEST(ServerOptionsTest, AStoreUrlKeepsJobsAndDatasetsInPostgresql) {
  absl::StatusOr<DescentdConfig> config =
      Parse({"--data-dir=/srv/descent", "--store=postgresql://descent@db:5432/jobs"});
  ASSERT_OK(config);
  EXPECT_EQ(config->options.job_store_url, "postgresql://descent@db:5432/jobs");
  EXPECT_EQ(config->options.job_store_path, "");
  EXPECT_EQ(config->options.dataset_dir, "");
  // One bytea value per dataset: at most 1 GiB less PostgreSQL's margin.
  EXPECT_OK(Parse({"--store=postgresql://descent@db/jobs", "--max-dataset-bytes=1000000000"}));
  EXPECT_THAT(Parse({"--store=postgresql://descent@db/jobs", "--max-dataset-bytes=2000000000"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--max-dataset-bytes must be at most 1072693248")));
  EXPECT_OK(Parse({"--max-dataset-bytes=2000000000"}));  // files have no such limit

  EXPECT_THAT(Parse({"--store=/srv/descent/descent.db"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--store must be a PostgreSQL URL, postgresql://")));
  ServerOptions both;
  both.job_store_path = "/srv/descent/descent.db";
  both.job_store_url = "postgresql://descent@db/jobs";
  EXPECT_THAT(ValidateServerOptions(both),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--store")));
}

TEST(ServerOptionsTest, FlagErrorsAreUsageErrors) {
  EXPECT_THAT(Parse({"--checkpoint-every-seconds=nan"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--checkpoint-every-seconds must be > 0")));
  EXPECT_THAT(Parse({"--data-dir="}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--data-dir must be set")));
  EXPECT_THAT(Parse({"--retain-finished-for=soon"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--retain-finished-for=soon is not an age")));
  EXPECT_THAT(Parse({"--tls-key=k.pem"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls-key")));
}

TEST(ServerOptionsTest, TheHelpDocumentsEveryFlagWithItsDefault) {
  const std::string help = DescentdHelp();
  for (const char* flag : {"--listen (default \"0.0.0.0:50051\")", "--workers (default \"0\")",
                           "--retain-finished-for (default \"0\")", "--log-format", "--version",
                           "Exit codes:"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace descent::server
