// Child processes for tests that drive real binaries (descentd, descent): start with
// arguments and environment, capture stdout and stderr, wait with a bound, signal, and kill
// on destruction so no test leaves a process behind.
#ifndef DESCENT_TESTS_TESTING_PROCESS_H_
#define DESCENT_TESTS_TESTING_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace descent::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound, then released), chosen at
// random below the kernel's ephemeral range (ip_local_port_range). Tests pass it to a server
// that then fails to bind loudly rather than silently sharing. Outside the ephemeral range,
// because tests restart a server on its port while clients keep reconnecting to it: a
// client's connect to a port in that range with nothing listening can be given that very
// port as its own source port (TCP simultaneous open connects the socket to itself), which
// holds the port and makes the restarted server fail to bind.
int PickFreePort();

struct ProcessOptions {
  // Added to (or replacing entries of) this process's environment.
  std::vector<std::pair<std::string, std::string>> env;
  // Removed from the child's environment (e.g. DESCENT_SERVER).
  std::vector<std::string> unset_env;
  std::string working_dir;  // "" = this process's
  std::string stdin_file;   // read as standard input; "" = /dev/null
};

class Subprocess {
 public:
  // Starts argv[0] (a path) with argv. INTERNAL if it cannot be started.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const ProcessOptions& options = {});
  // Kills (SIGKILL) and reaps the process if it still runs.
  ~Subprocess();

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // The exit code, or 128 + the signal number when killed by a signal. DEADLINE_EXCEEDED
  // when it is still running after `timeout` (it keeps running).
  absl::StatusOr<int> Wait(absl::Duration timeout);
  void Signal(int signal);

  // Everything the process wrote so far (complete once Wait returned).
  std::string Stdout();
  std::string Stderr();
  // True once stdout (or stderr) contains `text`; false after `timeout`.
  bool WaitForOutput(const std::string& text, absl::Duration timeout, bool on_stderr = false);
  // True once `done` holds for everything stdout (or stderr) holds so far; false after
  // `timeout`. The output may end inside a line: a long line reaches the pipe in pieces.
  bool WaitForOutputWhere(const std::function<bool(const std::string&)>& done,
                          absl::Duration timeout, bool on_stderr = false);

 private:
  Subprocess() = default;
  void Drain(int fd, bool is_stderr);  // appends until EOF, then closes fd

  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
  absl::Mutex mu_;
  std::string stdout_ ABSL_GUARDED_BY(mu_);
  std::string stderr_ ABSL_GUARDED_BY(mu_);
  std::thread stdout_reader_;
  std::thread stderr_reader_;
};

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv to completion. DEADLINE_EXCEEDED (after killing it) when it runs past `timeout`,
// its message ending with the last of what the process printed on stdout and stderr.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         absl::Duration timeout,
                                         const ProcessOptions& options = {});

}  // namespace descent::testing

#endif  // DESCENT_TESTS_TESTING_PROCESS_H_
