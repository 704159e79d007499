#include "tests/testing/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace descent::testing {

namespace {

// The lowest port of the kernel's ephemeral range (32768 when it cannot be read).
int FirstEphemeralPort() {
  int low = 32768, high = 0;
  if (FILE* range = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(range, "%d %d", &low, &high) != 2) low = 32768;
    std::fclose(range);
  }
  return low;
}

// Whether `port` can be bound on 127.0.0.1 right now.
bool PortIsFree(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return bound;
}

}  // namespace

int PickFreePort() {
  // Above the well-known and the common service ports, below the ephemeral range.
  const int low = 20000;
  const int high = std::max(low + 1000, FirstEphemeralPort());
  std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> ports(low, high - 1);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = ports(random);
    if (PortIsFree(port)) return port;
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(const std::vector<std::string>& argv,
                                                              const ProcessOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("argv must not be empty");
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return absl::InternalError("pipe2 failed");
  }

  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const size_t eq = text.find('=');
    if (eq != std::string::npos) env[text.substr(0, eq)] = text.substr(eq + 1);
  }
  for (const std::string& name : options.unset_env) env.erase(name);
  for (const auto& [name, value] : options.env) env[name] = value;
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) env_strings.push_back(absl::StrCat(name, "=", value));
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argvp;
  for (std::string& arg : args) argvp.push_back(arg.data());
  argvp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string stdin_path = options.stdin_file.empty() ? "/dev/null" : options.stdin_file;
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  if (!options.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_dir.c_str());
  }
  pid_t pid = -1;
  const int error =
      posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argvp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (error != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return absl::InternalError(absl::StrCat("cannot start ", args[0], ": ", strerror(error)));
  }
  std::unique_ptr<Subprocess> process(new Subprocess());
  process->pid_ = pid;
  Subprocess* raw = process.get();
  process->stdout_reader_ = std::thread([raw, fd = out_pipe[0]] { raw->Drain(fd, false); });
  process->stderr_reader_ = std::thread([raw, fd = err_pipe[0]] { raw->Drain(fd, true); });
  return process;
}

void Subprocess::Drain(int fd, bool is_stderr) {
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    absl::MutexLock lock(&mu_);
    (is_stderr ? stderr_ : stdout_).append(buffer, static_cast<size_t>(n));
  }
  close(fd);
}

Subprocess::~Subprocess() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (stdout_reader_.joinable()) stdout_reader_.join();
  if (stderr_reader_.joinable()) stderr_reader_.join();
}

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!reaped_) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (done < 0 && errno != EINTR) return absl::InternalError("waitpid failed");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  // The pipes close when the process exits: the readers end and the output is complete.
  if (stdout_reader_.joinable()) stdout_reader_.join();
  if (stderr_reader_.joinable()) stderr_reader_.join();
  return exit_code_;
}

void Subprocess::Signal(int signal) {
  if (!reaped_) kill(pid_, signal);
}

std::string Subprocess::Stdout() {
  absl::MutexLock lock(&mu_);
  return stdout_;
}

std::string Subprocess::Stderr() {
  absl::MutexLock lock(&mu_);
  return stderr_;
}

bool Subprocess::WaitForOutput(const std::string& text, absl::Duration timeout, bool on_stderr) {
  return WaitForOutputWhere(
      [&](const std::string& output) { return output.find(text) != std::string::npos; }, timeout,
      on_stderr);
}

bool Subprocess::WaitForOutputWhere(const std::function<bool(const std::string&)>& done,
                                    absl::Duration timeout, bool on_stderr) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (done(on_stderr ? stderr_ : stdout_)) return true;
    }
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         absl::Duration timeout, const ProcessOptions& options) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(argv, options);
  if (!process.ok()) return process.status();
  absl::StatusOr<int> code = (*process)->Wait(timeout);
  if (absl::IsDeadlineExceeded(code.status())) {
    // What it printed before it stuck says where; the destructor then kills it.
    auto tail = [](const std::string& text) {
      constexpr size_t kTail = 4000;
      return text.substr(text.size() > kTail ? text.size() - kTail : 0);
    };
    return absl::DeadlineExceededError(absl::StrCat(
        code.status().message(), "; the end of its stdout:\n", tail((*process)->Stdout()),
        "\nthe end of its stderr:\n", tail((*process)->Stderr())));
  }
  if (!code.ok()) return code.status();
  return ProcessResult{*code, (*process)->Stdout(), (*process)->Stderr()};
}

}  // namespace descent::testing
