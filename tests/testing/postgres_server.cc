#include "tests/testing/postgres_server.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/testing/files.h"
#include "tests/testing/process.h"

namespace descent::testing {
namespace {

constexpr char kUser[] = "descent";
constexpr char kDirPrefix[] = "descent-postgres.";

std::string BinDir() {
  const char* dir = getenv("DESCENT_POSTGRES_BIN");
  return dir != nullptr && *dir != '\0' ? dir : "/usr/lib/postgresql/15/bin";
}

std::string TempRoot() {
  const char* dir = getenv("TMPDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

struct Identity {
  bool switch_user = false;  // only as root
  uid_t uid = 0;
  gid_t gid = 0;
};

// PostgreSQL refuses to run as root: as root, Debian's `postgres` user (postgresql-common
// creates it), else `nobody`; otherwise the caller itself.
absl::StatusOr<Identity> ServerIdentity() {
  Identity identity;
  identity.uid = geteuid();
  identity.gid = getegid();
  if (identity.uid != 0) return identity;
  for (const char* name : {"postgres", "nobody"}) {
    if (const passwd* entry = getpwnam(name); entry != nullptr && entry->pw_uid != 0) {
      identity.switch_user = true;
      identity.uid = entry->pw_uid;
      identity.gid = entry->pw_gid;
      return identity;
    }
  }
  return absl::UnavailableError(
      "running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL");
}

// Starts argv (argv[0] a path) in its own process group as `identity`, standard output and
// error appended to `log`. The child gets SIGQUIT (PostgreSQL's immediate shutdown) when this
// thread dies, so a crashed test leaves no server behind. Returns the pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, const Identity& identity, const std::string& log) {
  std::vector<std::string> args = argv;
  std::vector<char*> pointers;
  for (std::string& arg : args) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // The child: async-signal-safe calls only until exec.
  setpgid(0, 0);
  const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int in = open("/dev/null", O_RDONLY);
  if (out < 0 || in < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
      dup2(out, STDERR_FILENO) < 0) {
    _exit(126);
  }
  if (identity.switch_user &&
      (setgroups(0, nullptr) != 0 || setgid(identity.gid) != 0 || setuid(identity.uid) != 0)) {
    _exit(126);
  }
  // After the user switch, which clears the death signal.
  prctl(PR_SET_PDEATHSIG, SIGQUIT);
  if (getppid() != parent) _exit(1);
  execv(pointers[0], pointers.data());
  _exit(127);
}

// Waits for `pid` to exit; its exit code (128 + signal when killed), or nullopt when it still
// runs after `timeout`.
std::optional<int> WaitFor(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (done < 0 && errno != EINTR) return -1;
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

// Runs argv to completion (at most two minutes); INTERNAL naming it and quoting `log` on failure.
absl::Status RunToCompletion(const std::vector<std::string>& argv, const Identity& identity,
                             const std::string& log) {
  const pid_t pid = Spawn(argv, identity, log);
  if (pid < 0) return absl::InternalError(absl::StrCat("cannot fork for ", argv[0]));
  const std::optional<int> code = WaitFor(pid, absl::Minutes(2));
  if (!code) {
    kill(-pid, SIGKILL);
    WaitFor(pid, absl::InfiniteDuration());
  }
  if (code == 0) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(argv[0], " failed (exit ", code.value_or(-1), "): ",
                                             ReadWholeFile(log)));
}

// Removes the directories of servers whose test process is gone (it crashed before cleaning up).
void RemoveAbandonedDirs() {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(TempRoot(), error)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, kDirPrefix)) continue;
    int owner = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadWholeFile(entry.path() / "owner")),
                          &owner) ||
        owner <= 0) {
      continue;  // being created, or not ours
    }
    if (kill(owner, 0) != 0 && errno == ESRCH) std::filesystem::remove_all(entry.path(), error);
  }
}

// The cluster every server copies: initdb'd once per machine and user, under a lock so
// concurrent test processes wait for the first one instead of racing it.
absl::StatusOr<std::string> TemplateCluster(const Identity& identity) {
  const std::string dir = absl::StrCat(TempRoot(), "/descent-postgres-15-template-", identity.uid);
  const int lock = open((dir + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    if (lock >= 0) close(lock);
    return absl::UnavailableError(absl::StrCat("cannot lock ", dir, ".lock: ", strerror(errno)));
  }
  absl::Status status;
  if (!std::filesystem::exists(dir + "/PG_VERSION")) {
    const std::string building = absl::StrCat(dir, ".building.", getpid());
    const std::string log = building + ".log";
    std::error_code ignored;
    std::filesystem::remove_all(building, ignored);
    std::filesystem::remove_all(dir, ignored);
    // Owned by the server's user, in a directory it may write: initdb creates `building` itself.
    status = RunToCompletion({BinDir() + "/initdb", "-D", building, "-U", kUser, "--auth=trust",
                              "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                             identity, log);
    std::filesystem::remove(log, ignored);
    if (status.ok() && rename(building.c_str(), dir.c_str()) != 0) {
      status = absl::UnavailableError(absl::StrCat("cannot rename ", building, ": ", strerror(errno)));
    }
    if (!status.ok()) std::filesystem::remove_all(building, ignored);
  }
  close(lock);
  if (!status.ok()) return status;
  return dir;
}

// The connection string of the maintenance database.
std::string AdminConnection(int port) {
  return absl::StrCat("host=127.0.0.1 port=", port, " user=", kUser,
                      " dbname=postgres connect_timeout=10");
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  for (const char* binary : {"/initdb", "/postgres"}) {
    if (access((BinDir() + binary).c_str(), X_OK) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "PostgreSQL 15 is not installed (no ", BinDir(), binary,
          "); install it with deploy/install-deps.sh test, or set DESCENT_POSTGRES_BIN"));
    }
  }
  absl::StatusOr<Identity> identity = ServerIdentity();
  if (!identity.ok()) return identity.status();
  RemoveAbandonedDirs();
  absl::StatusOr<std::string> cluster = TemplateCluster(*identity);
  if (!cluster.ok()) return cluster.status();

  std::string dir = absl::StrCat(TempRoot(), "/", kDirPrefix, "XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::UnavailableError(absl::StrCat("mkdtemp ", dir, ": ", strerror(errno)));
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer(dir, identity->uid, identity->gid));
  {
    FILE* owner = fopen((dir + "/owner").c_str(), "w");
    if (owner != nullptr) {
      fprintf(owner, "%d\n", static_cast<int>(getpid()));
      fclose(owner);
    }
  }
  if (identity->switch_user && chown(dir.c_str(), identity->uid, identity->gid) != 0) {
    return absl::UnavailableError(absl::StrCat("chown ", dir, ": ", strerror(errno)));
  }
  // cp -a keeps the owner (as root) and the 0700 mode PostgreSQL insists on.
  Identity self;
  if (absl::Status copied =
          RunToCompletion({"/bin/cp", "-a", *cluster, dir + "/data"}, self, dir + "/copy.log");
      !copied.ok()) {
    return copied;
  }
  if (absl::Status launched = server->Launch(); !launched.ok()) return launched;
  return server;
}

absl::Status PostgresServer::Launch() {
  const Identity identity{uid_ != geteuid(), uid_, gid_};
  const std::string log = dir_ + "/server.log";
  const bool keep_port = port_ != 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!keep_port) port_ = PickFreePort();
    // Durability is not under test here: no fsync, and small buffers since many test
    // processes run a server each at once.
    pid_ = Spawn({BinDir() + "/postgres", "-D", dir_ + "/data", "-p", absl::StrCat(port_), "-k",
                  dir_, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
                  "full_page_writes=off", "-c", "shared_buffers=16MB", "-c", "max_connections=50",
                  "-c", "max_wal_size=256MB", "-c", "log_min_messages=warning"},
                 identity, log);
    if (pid_ < 0) return absl::UnavailableError("cannot fork for postgres");
    const std::string connection = AdminConnection(port_);
    const absl::Time deadline = absl::Now() + absl::Minutes(1);
    while (absl::Now() < deadline) {
      if (PQping(connection.c_str()) == PQPING_OK) return absl::OkStatus();
      if (WaitFor(pid_, absl::Milliseconds(20)).has_value()) {
        pid_ = -1;
        break;
      }
    }
    const std::string text = ReadWholeFile(log);
    if (pid_ < 0 && !keep_port && absl::StrContains(text, "could not bind")) continue;
    Shutdown();
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL did not start on 127.0.0.1:", port_, ": ", text));
  }
  return absl::UnavailableError("PostgreSQL found no free port in five attempts");
}

void PostgresServer::Shutdown() {
  if (pid_ < 0) return;
  kill(pid_, SIGINT);  // fast shutdown: open transactions are rolled back, clients cut
  if (!WaitFor(pid_, absl::Seconds(30)).has_value()) {
    kill(-pid_, SIGKILL);
    WaitFor(pid_, absl::InfiniteDuration());
  }
  pid_ = -1;
}

PostgresServer::~PostgresServer() {
  Shutdown();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status PostgresServer::Restart() {
  Shutdown();
  return Launch();
}

std::string PostgresServer::Url(const std::string& database) const {
  return absl::StrCat("postgresql://", kUser, "@127.0.0.1:", port_, "/", database);
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase() {
  const std::string name = absl::StrCat("test_", getpid(), "_", databases_++);
  PGconn* connection = PQconnectdb(AdminConnection(port_).c_str());
  absl::Status status;
  if (PQstatus(connection) != CONNECTION_OK) {
    status = absl::UnavailableError(PQerrorMessage(connection));
  } else {
    PGresult* result = PQexec(connection, absl::StrCat("CREATE DATABASE ", name).c_str());
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      status = absl::UnavailableError(
          absl::StrCat("CREATE DATABASE ", name, ": ", PQerrorMessage(connection)));
    }
    PQclear(result);
  }
  PQfinish(connection);
  if (!status.ok()) return status;
  return Url(name);
}

absl::StatusOr<PostgresServer*> SharedPostgres() {
  static absl::Mutex mu(absl::kConstInit);
  // Never destroyed: stopped by an atexit handler instead, so a test that exits early still
  // stops it, and no destructor order question arises.
  static std::unique_ptr<PostgresServer>* server = nullptr;
  static absl::Status* failure = nullptr;
  absl::MutexLock lock(&mu);
  if (failure != nullptr) return *failure;
  if (server != nullptr) return server->get();
  absl::StatusOr<std::unique_ptr<PostgresServer>> started = PostgresServer::Start();
  if (!started.ok()) {
    failure = new absl::Status(started.status());
    return *failure;
  }
  server = new std::unique_ptr<PostgresServer>(*std::move(started));
  std::atexit([] { server->reset(); });
  return server->get();
}

absl::StatusOr<std::string> FreshPostgresDatabase() {
  absl::StatusOr<PostgresServer*> server = SharedPostgres();
  if (!server.ok()) return server.status();
  return (*server)->CreateDatabase();
}

bool PostgresRequired() {
  const char* ci = getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace descent::testing
