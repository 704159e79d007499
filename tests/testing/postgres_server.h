// A throwaway PostgreSQL 15 server for tests: Debian's postgresql-15 binaries, a cluster in
// a temp dir, listening on a free 127.0.0.1 port with its unix socket in that dir, trust
// authentication for the user "descent". As root (CI runs as root, and PostgreSQL refuses to
// run as root) the server runs as Debian's `postgres` user, else as the caller.
//
// The server never outlives the test process: it is stopped on destruction (and at exit for
// the shared one), and if the test process dies without that (a crash, SIGKILL) the kernel
// sends the postmaster SIGQUIT (PR_SET_PDEATHSIG), PostgreSQL's immediate shutdown. The next
// harness start removes temp dirs whose test process is gone.
//
// initdb runs once per machine (a template cluster under the temp dir, shared by every test
// process through a lock file); each server starts from a copy of it, so a server costs a
// copy of ~40 MB and a start, not an initdb.
#ifndef DESCENT_TESTS_TESTING_POSTGRES_SERVER_H_
#define DESCENT_TESTS_TESTING_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace descent::testing {

class PostgresServer {
 public:
  // Starts a new server with an empty cluster. UNAVAILABLE with the reason when PostgreSQL
  // 15 is not installed, no unprivileged user can run it, or it does not come up within a
  // minute (its log is quoted).
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  // Stops the server (fast shutdown, then SIGKILL) and removes its directory.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // A connection URL for `database` as user "descent": postgresql://descent@127.0.0.1:PORT/DB
  std::string Url(const std::string& database) const;

  // Creates a new empty database with a unique name and returns its URL.
  absl::StatusOr<std::string> CreateDatabase();

  // Stops the server (connections are cut) and starts it again on the same port and data, for
  // tests of reconnection. UNAVAILABLE when it does not come back.
  absl::Status Restart();
  // The two halves of Restart, for an outage of the test's choosing: Stop is a fast shutdown
  // (pg_ctl stop -m fast: open transactions roll back, clients are cut); Resume starts the
  // server again on the same port and data and waits until it accepts connections.
  void Stop() { Shutdown(); }
  absl::Status Resume() { return Launch(); }

 private:
  PostgresServer(std::string dir, uid_t uid, gid_t gid) : dir_(std::move(dir)), uid_(uid), gid_(gid) {}
  absl::Status Launch();  // starts the postmaster on port_ and waits until it accepts connections
  void Shutdown();        // stops the postmaster if it runs

  const std::string dir_;  // holds data/ (the cluster), the socket and server.log
  const uid_t uid_;
  const gid_t gid_;
  int port_ = 0;
  pid_t pid_ = -1;  // the postmaster, -1 when stopped
  int databases_ = 0;
};

// The process's shared server, started on first use and stopped at exit; the failure to start
// it is remembered, so later callers get the same status at once.
absl::StatusOr<PostgresServer*> SharedPostgres();

// A fresh database on the shared server (its URL), one per test.
absl::StatusOr<std::string> FreshPostgresDatabase();

// True when tests must not skip for want of PostgreSQL: CI=true in the environment.
bool PostgresRequired();

}  // namespace descent::testing

// In a test (or SetUp): declares `std::string var`, the URL of a fresh database on the shared
// server. Without PostgreSQL the test is skipped naming the reason, or fails under CI=true.
#define DESCENT_POSTGRES_DATABASE_OR_SKIP(var)                                         \
  const absl::StatusOr<std::string> var##_or = ::descent::testing::FreshPostgresDatabase(); \
  if (!var##_or.ok()) {                                                                \
    if (::descent::testing::PostgresRequired()) {                                      \
      FAIL() << "PostgreSQL is required (CI=true): " << var##_or.status();             \
    } else {                                                                           \
      GTEST_SKIP() << "no PostgreSQL for this test: " << var##_or.status();            \
    }                                                                                  \
  }                                                                                    \
  const std::string var = *var##_or

#endif  // DESCENT_TESTS_TESTING_POSTGRES_SERVER_H_
