// descent: the command-line client of descentd. Parses argv (CLI11), connects, and runs one
// command from client/commands.h, whose return value is the exit code.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/channel.h"
#include "client/commands.h"
#include "client/dataset_client.h"
#include "client/dataset_commands.h"
#include "client/sweep_commands.h"
#include "client/descent_client.h"
#include "client/fail_on.h"
#include "client/lr_find_command.h"
#include "client/nearest_name.h"
#include "client/predict_command.h"
#include "client/race_command.h"
#include "client/server_address.h"

namespace {

using descent::client::CommandContext;
using descent::client::OutputFormat;

int TerminalWidth() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    const int width = std::atoi(columns);
    if (width > 0) return width;
  }
  return 80;
}

// "descent: unknown command 'sumbit'; did you mean 'submit'?" (or the list of commands), for
// the first word left over when no command matched.
std::string UnknownCommand(CLI::App& app, const std::string& word) {
  if (!word.empty() && word.front() == '-') {
    return "descent: unknown option " + word + "; `descent --help` lists the options\n";
  }
  std::vector<std::string> commands;
  for (const CLI::App* command : app.get_subcommands({})) commands.push_back(command->get_name());
  const std::string nearest = descent::client::NearestName(word, commands);
  std::string message = "descent: unknown command '" + word + "'; ";
  if (!nearest.empty()) return message + "did you mean '" + nearest + "'?\n";
  return message + "the commands are " + absl::StrJoin(commands, ", ") + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "descent: submit training jobs to descentd, watch their loss, fetch their models.\n"
      "Exit codes: 0 success / job succeeded, 1 job failed or cancelled (or the request was\n"
      "refused), 2 usage error (bad arguments or files, unknown job, missing or rejected\n"
      "DESCENT_TOKEN, an unknown command; bare `descent` prints this help), 3 server\n"
      "unreachable (including a failed TLS handshake), 4 (watch, submit --watch) the job\n"
      "succeeded but its diagnosis is one --fail-on names.\n"
      "Environment: DESCENT_SERVER, DESCENT_TOKEN (bearer token), DESCENT_TOKEN_FILE,\n"
      "DESCENT_TLS_CA, DESCENT_TLS_CERT, DESCENT_TLS_KEY, DESCENT_TLS_SERVER_NAME.",
      "descent"};
  app.set_version_flag("--version", std::string(DESCENT_VERSION));
  // At most one command; none prints the help, and a word that is no command is named with
  // the nearest one (see UnknownCommand), which CLI11 would report as "not expected".
  app.require_subcommand(0, 1);

  std::string server = "localhost:50051";
  std::string output = "text";
  double timeout_seconds = 30;
  double reconnect_seconds = 60;
  app.add_option("--server", server,
                 "descentd address HOST:PORT (HOST alone: port 50051; IPv6 as [::1]:PORT)")
      ->envname("DESCENT_SERVER")
      ->capture_default_str();
  app.add_option("-o,--format", output,
                 "output format of every command: text (for people) or json (one object per "
                 "line); export also writes onnx (an ONNX model file)")
      ->check(CLI::IsMember({"text", "json", "onnx"}))
      ->capture_default_str();
  app.add_option("--timeout", timeout_seconds, "deadline of each request, in seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  // TLS and the bearer token. The token itself is only ever read from DESCENT_TOKEN or a
  // file: a --token flag would show in `ps` and shell history.
  descent::client::ChannelSettings channel_settings;
  app.add_option("--tls-ca", channel_settings.tls_ca_file,
                 "PEM CA bundle that signed descentd's certificate; connects over TLS")
      ->envname("DESCENT_TLS_CA");
  app.add_option("--tls-cert", channel_settings.tls_cert_file,
                 "PEM client certificate for mutual TLS (with --tls-key and --tls-ca)")
      ->envname("DESCENT_TLS_CERT");
  app.add_option("--tls-key", channel_settings.tls_key_file, "PEM private key of --tls-cert")
      ->envname("DESCENT_TLS_KEY");
  app.add_option("--tls-server-name", channel_settings.tls_server_name,
                 "name to expect in descentd's certificate when it differs from --server's host")
      ->envname("DESCENT_TLS_SERVER_NAME");
  app.add_option("--token-file", channel_settings.token_file,
                 "file holding the bearer token (default: the DESCENT_TOKEN variable)")
      ->envname("DESCENT_TOKEN_FILE");

  std::string spec_path, job_id, request_id, state, out_file, input_file, scale = "auto";
  bool watch = false, follow = false;
  int height = 16;
  // Options that several commands take, declared once.
  const auto add_reconnect_timeout = [&reconnect_seconds](CLI::App* cmd) {
    cmd->add_option("--reconnect-timeout", reconnect_seconds,
                    "give up on a dropped stream after this many seconds without the server")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
  };
  const auto add_height = [](CLI::App* cmd, int& rows) {
    cmd->add_option("--height", rows, "rows of the chart")
        ->check(CLI::Range(4, 200))
        ->capture_default_str();
  };

  CLI::App* submit = app.add_subcommand("submit", "submit a job spec (JSON JobSpec)");
  submit->add_option("SPEC", spec_path,
                     "job spec file, e.g. examples/house-prices.json; - reads standard input")
      ->required();
  submit->add_flag("-w,--watch", watch,
                   "follow the job until it ends (exit code: its outcome and --fail-on)");
  submit->add_option("--request-id", request_id,
                     "idempotency key: resubmitting with it returns the first job");

  CLI::App* watch_cmd = app.add_subcommand("watch", "follow a job's losses until it ends");
  watch_cmd->add_option("JOB", job_id, "job id")->required();
  std::string fail_on(descent::client::kDefaultFailOn);
  for (CLI::App* cmd : {submit, watch_cmd}) {
    add_reconnect_timeout(cmd);
    cmd->add_option("--fail-on", fail_on,
                    "exit 4 when the job succeeds with one of these diagnosis verdicts: "
                    "diverged, stalled, learning, converged, comma-separated, or none")
        ->capture_default_str();
  }

  CLI::App* get = app.add_subcommand("get", "show a job");
  get->add_option("JOB", job_id, "job id")->required();

  CLI::App* list = app.add_subcommand("list", "list jobs, newest first");
  list->add_option("--state", state, "only jobs in this state (QUEUED, RUNNING, SUCCEEDED, ...)");
  std::string group;
  list->add_option("--group", group, "only the jobs of this group (a sweep's or race's id)");

  CLI::App* cancel = app.add_subcommand("cancel", "cancel a queued or running job");
  cancel->add_option("JOB", job_id, "job id")->required();

  CLI::App* export_cmd = app.add_subcommand(
      "export", "a succeeded job's model: JSON layers and weights, or an ONNX file");
  export_cmd->add_option("JOB", job_id, "job id")->required();
  export_cmd->add_option("--output", out_file,
                         "write the model to this file (default: standard output)");

  CLI::App* predict = app.add_subcommand("predict", "run a succeeded job's model on rows");
  predict->add_option("JOB", job_id, "job id")->required();
  bool no_header = false;
  predict->add_option("-i,--input", input_file,
                      "CSV or JSON rows of features; - reads standard input")
      ->required();
  predict->add_flag("--no-header", no_header,
                    "the CSV has no header line: its columns are the model's features, in order");
  predict->footer(descent::client::kPredictHelp);

  std::string dataset_name, dataset_ref;
  CLI::App* upload = app.add_subcommand("upload", "upload a CSV table (header row first) to train on");
  upload->add_option("FILE", input_file, "the CSV file")->required();
  upload->add_option("--name", dataset_name, "the dataset's name (default: the file's name)");
  CLI::App* datasets_cmd = app.add_subcommand("datasets", "list uploaded datasets, newest first");
  CLI::App* dataset_cmd = app.add_subcommand("dataset", "manage one uploaded dataset");
  dataset_cmd->require_subcommand(1);
  CLI::App* dataset_rm = dataset_cmd->add_subcommand("rm", "delete a dataset no queued or running job uses");
  dataset_rm->add_option("DATASET", dataset_ref, "dataset name or id")->required();

  CLI::App* plot =
      app.add_subcommand("plot", "draw a job's minibatch loss over steps in the terminal");
  plot->add_option("JOB", job_id, "job id")->required();
  plot->add_flag("-f,--follow", follow, "for a running job, wait for its end");
  plot->add_option("--scale", scale, "y axis: auto (log when the loss spans decades), linear, log")
      ->check(CLI::IsMember({"auto", "linear", "log"}))
      ->capture_default_str();
  add_height(plot, height);

  descent::client::LrFindOptions lr_find_options;
  CLI::App* lr_find = app.add_subcommand(
      "lr-find", "find a learning rate: a range test of a job file's model (loss against rate)");
  lr_find->add_option("SPEC", spec_path, "job spec file; - reads standard input")->required();
  lr_find->add_option("--min", lr_find_options.min_learning_rate,
                      "the rate of the first step (default 1e-7)")
      ->check(CLI::PositiveNumber);
  lr_find->add_option("--max", lr_find_options.max_learning_rate,
                      "the rate of the last step (default 10)")
      ->check(CLI::PositiveNumber);
  lr_find->add_option("--steps", lr_find_options.steps,
                      "optimizer steps, the rate growing exponentially from --min to --max "
                      "(default 100; 10 .. 1000)");
  add_height(lr_find, lr_find_options.chart_height);
  add_reconnect_timeout(lr_find);
  lr_find->footer(
      "The learning rate grows exponentially from --min to --max, one rate per optimizer step,\n"
      "on the job's model, data and batches, and the test stops once the smoothed loss passes\n"
      "4x its best. The suggestion is the middle of the decade of rates over which the smoothed\n"
      "loss falls most; fastai's valley, steepest slope and minimum/10 are shown as candidates.\n"
      "-o json prints suggestedLearningRate, the suggestion, the candidates and every point.");

  std::vector<std::string> racers;
  descent::client::RaceOptions race_options;
  CLI::App* race = app.add_subcommand(
      "race", "train a job file once per optimizer, overlay their loss curves and rank them");
  race->add_option("SPEC", spec_path, "job spec file; - reads standard input");
  race->add_option("OPTIMIZERS", racers,
                   "two or more of sgd, adam, rmsprop, adagrad, each optionally with :RATE");
  race->add_option("--watch", group,
                   "follow (or show) the race with this id instead of starting one");
  add_height(race, race_options.chart_height);
  add_reconnect_timeout(race);
  race->footer(
      "descent race examples/house-prices.json sgd:0.01 adam rmsprop:0.001\n"
      "The race is a sweep over the optimizer alone (descent sweep list|get|cancel know it):\n"
      "each optimizer trains the job file as one trial's job (same data, initial weights and\n"
      "batches: the file's training.seed), all at once, to the end. An optimizer without a\n"
      "rate keeps the file's when it is the file's optimizer, else takes PyTorch's default\n"
      "(Adam 0.001, RMSprop and Adagrad 0.01; SGD has none). When every run has ended, one\n"
      "chart overlays their minibatch losses and a table ranks them by final loss (validation\n"
      "when the file holds some out), with the step each came within 10% of the best.\n"
      "--watch RACE follows a race again, e.g. after a restart. -o json prints one object.");

  descent::client::SweepViewOptions sweep_options;
  std::string sweep_id;
  CLI::App* sweep_cmd = app.add_subcommand(
      "sweep", "run a job file many times with some fields varied, stopping laggards early");
  sweep_cmd->require_subcommand(1);
  CLI::App* sweep_submit = sweep_cmd->add_subcommand("submit", "start a sweep (JSON SweepSpec)");
  sweep_submit->add_option("FILE", spec_path, "sweep file; - reads standard input")->required();
  sweep_submit->add_flag("-w,--watch", watch, "follow the sweep until it ends");
  CLI::App* sweep_watch = sweep_cmd->add_subcommand("watch", "follow a sweep until it ends");
  CLI::App* sweep_get = sweep_cmd->add_subcommand("get", "show a sweep and its trials");
  CLI::App* sweep_list = sweep_cmd->add_subcommand("list", "list sweeps, newest first");
  CLI::App* sweep_cancel = sweep_cmd->add_subcommand("cancel", "cancel a sweep and its trials");
  for (CLI::App* cmd : {sweep_watch, sweep_get, sweep_cancel}) {
    cmd->add_option("SWEEP", sweep_id, "sweep id (sweep-...)")->required();
  }
  for (CLI::App* cmd : {sweep_submit, sweep_watch}) {
    add_height(cmd, sweep_options.chart_height);
    add_reconnect_timeout(cmd);
  }
  sweep_cmd->footer(
      "A sweep file names a base job spec, the fields to vary (paths as in job files:\n"
      "optimizer, optimizer.learningRate, training.batchSize, ...) with values, uniform,\n"
      "logUniform or intRange, the trials, the objective and an early-stopping rule (asha or\n"
      "median). Each trial is an ordinary job tagged with the sweep's id. See README.md.");

  CLI::App* health = app.add_subcommand("health", "check that descentd is serving");

  for (CLI::App* cmd : app.get_subcommands({})) cmd->fallthrough();
  dataset_rm->fallthrough();
  for (CLI::App* cmd : sweep_cmd->get_subcommands({})) cmd->fallthrough();
  // Set after the commands exist, which would otherwise inherit it: only words before a
  // command can be left over, and UnknownCommand reports them.
  app.allow_extras();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? descent::client::kExitOk : descent::client::kExitUsage;
  }
  if (app.get_subcommands().empty()) {
    const std::vector<std::string> extras = app.remaining();
    if (extras.empty()) {
      // Bare `descent`: the help, and the usage-error code so a script notices.
      std::cout << app.help();
      return descent::client::kExitUsage;
    }
    std::cerr << UnknownCommand(app, extras.front());
    return descent::client::kExitUsage;
  }
  if (const std::vector<std::string> extras = app.remaining(); !extras.empty()) {
    std::cerr << "descent: "
              << (absl::StartsWith(extras.front(), "-") ? "unknown option " : "unexpected argument ")
              << extras.front() << "; see `descent " << app.get_subcommands().front()->get_name()
              << " --help`\n";
    return descent::client::kExitUsage;
  }
  server = descent::client::WithDefaultPort(server);

  if (const char* token = std::getenv("DESCENT_TOKEN")) channel_settings.token = token;
  absl::StatusOr<descent::client::ChannelOptions> channel_options =
      descent::client::LoadChannelOptions(channel_settings);
  if (!channel_options.ok()) {
    std::cerr << "descent: " << channel_options.status().message() << "\n";
    return descent::client::kExitUsage;
  }
  absl::StatusOr<std::vector<descent::v1::Verdict>> fail_on_verdicts =
      descent::client::ParseFailOn(fail_on);
  if (!fail_on_verdicts.ok()) {
    std::cerr << "descent: " << fail_on_verdicts.status().message() << "\n";
    return descent::client::kExitUsage;
  }
  descent::client::ClientOptions client_options;
  client_options.rpc_timeout = absl::Seconds(timeout_seconds);
  // One channel (one connection, one TLS handshake) for every client of this command.
  const std::shared_ptr<grpc::Channel> channel =
      descent::client::OpenChannel(server, *channel_options);
  auto client = std::make_unique<descent::client::DescentClient>(channel, client_options);

  CommandContext ctx;
  ctx.client = client.get();
  ctx.server = server;
  ctx.tls = !channel_options->tls_ca_pem.empty();
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  if (output == "onnx" && !export_cmd->parsed()) {
    std::cerr << "descent: --format onnx is for export only (an ONNX model file); other "
                 "commands print text or json\n";
    return descent::client::kExitUsage;
  }
  ctx.format = output == "json" ? OutputFormat::kJson : OutputFormat::kText;
  ctx.interactive = isatty(STDOUT_FILENO) == 1;
  ctx.terminal_width = TerminalWidth();
  ctx.watch.give_up_after = absl::Seconds(reconnect_seconds);
  ctx.fail_on = *std::move(fail_on_verdicts);

  if (submit->parsed()) return RunSubmit(ctx, spec_path, watch, request_id);
  if (watch_cmd->parsed()) return RunWatch(ctx, job_id);
  if (get->parsed()) return RunGet(ctx, job_id);
  if (list->parsed()) return RunList(ctx, state, group);
  if (cancel->parsed()) return RunCancel(ctx, job_id);
  if (export_cmd->parsed()) return RunExport(ctx, job_id, output == "onnx", out_file);
  if (predict->parsed()) {
    return descent::client::RunPredict(ctx, job_id, {.input = input_file, .header = !no_header});
  }
  if (upload->parsed() || datasets_cmd->parsed() || dataset_cmd->parsed()) {
    auto datasets = std::make_unique<descent::client::DatasetClient>(channel, client_options);
    if (upload->parsed()) return RunUpload(ctx, *datasets, input_file, dataset_name);
    if (datasets_cmd->parsed()) return RunDatasets(ctx, *datasets);
    return RunDatasetRemove(ctx, *datasets, dataset_ref);
  }
  if (plot->parsed()) {
    descent::client::PlotOptions options;
    options.follow = follow;
    options.chart.width = ctx.terminal_width;
    options.chart.height = height;
    options.chart.scale = scale == "log"      ? descent::client::ChartScale::kLog
                          : scale == "linear" ? descent::client::ChartScale::kLinear
                                              : descent::client::ChartScale::kAuto;
    return RunPlot(ctx, job_id, options);
  }
  if (lr_find->parsed()) return RunLrFind(ctx, spec_path, lr_find_options);
  if (race->parsed()) {
    descent::client::SweepClient sweeps(channel, client_options);
    if (!group.empty()) {
      if (!spec_path.empty() || !racers.empty()) {
        std::cerr << "descent: race --watch " << group
                  << " follows a race that exists; leave out the job file and optimizers\n";
        return descent::client::kExitUsage;
      }
      return descent::client::RunRaceWatch(ctx, sweeps, group, race_options);
    }
    if (spec_path.empty()) {
      std::cerr << "descent: race needs a job file and two or more optimizers, e.g. descent "
                   "race examples/house-prices.json sgd:0.01 adam rmsprop (or --watch RACE)\n";
      return descent::client::kExitUsage;
    }
    return descent::client::RunRace(ctx, sweeps, spec_path, racers, race_options);
  }
  if (sweep_cmd->parsed()) {
    descent::client::SweepClient sweeps(channel, client_options);
    if (sweep_submit->parsed()) {
      return descent::client::RunSweepSubmit(ctx, sweeps, spec_path, watch, sweep_options);
    }
    if (sweep_watch->parsed()) return descent::client::RunSweepWatch(ctx, sweeps, sweep_id, sweep_options);
    if (sweep_get->parsed()) return descent::client::RunSweepGet(ctx, sweeps, sweep_id);
    if (sweep_list->parsed()) return descent::client::RunSweepList(ctx, sweeps);
    return descent::client::RunSweepCancel(ctx, sweeps, sweep_id);
  }
  if (health->parsed()) return RunHealth(ctx);
  return descent::client::kExitUsage;
}
