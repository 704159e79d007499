// A throwaway PostgreSQL 15 for scripts (bench/load.sh with LOAD_REPLICAS > 1): starts one
// with the test harness (tests/testing/postgres_server.h: a temp dir, a free loopback port, an
// unprivileged user), prints the URL of a fresh database on one line, and keeps the server
// until SIGTERM or SIGINT, then stops it and removes its directory. If this process is killed
// outright, the harness's PR_SET_PDEATHSIG stops the server with it.
//
// Exit code: 0 after a clean stop; 1 when PostgreSQL could not be started (the reason on
// stderr).
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "tests/testing/postgres_server.h"

int main() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  // Blocked before the server starts, so a signal sent meanwhile waits for sigwait.
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  absl::StatusOr<std::unique_ptr<descent::testing::PostgresServer>> server =
      descent::testing::PostgresServer::Start();
  absl::StatusOr<std::string> url =
      server.ok() ? (*server)->CreateDatabase() : absl::StatusOr<std::string>(server.status());
  if (!url.ok()) {
    std::fprintf(stderr, "scratch_postgres: %s\n", std::string(url.status().message()).c_str());
    return 1;
  }
  std::printf("%s\n", url->c_str());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop, &signal);
  return 0;  // the server stops as it is destroyed
}
