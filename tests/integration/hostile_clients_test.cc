// No request of any kind stops descentd: a barrage of hand-written and generated requests,
// non-HTTP input and stalled clients against the real binary's metrics port, non-gRPC input
// against its gRPC port, then GET /metrics and `descent health` must still answer.
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/http_get.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tcp_connection.h"

namespace descent::integration {
namespace {

using ::descent::testing::HttpGet;
using ::descent::testing::HttpResponse;
using ::descent::testing::IsCompleteHttpResponse;
using ::descent::testing::TcpConnection;
using ::testing::HasSubstr;

// Generous: every exchange normally ends in milliseconds.
constexpr absl::Duration kExchangeTimeout = absl::Seconds(30);

// What a request must get back.
enum class Expect {
  kStatus,             // exactly `status`
  kClientError,        // some 4xx or 5xx answer
  kAnswerOrClose,      // any well-formed answer, or a close without one
};

struct Probe {
  std::string name;
  std::string bytes;
  Expect expect = Expect::kStatus;
  int status = 0;
  bool head = false;  // the answer has headers only, whatever its Content-Length says
};

// The status code of an HTTP/1.x response, or 0 when `raw` does not start with a status line.
int StatusOf(const std::string& raw) {
  int status = 0;
  if (!absl::StartsWith(raw, "HTTP/1.") || raw.size() < 12 ||
      !absl::SimpleAtoi(raw.substr(9, 3), &status)) {
    return 0;
  }
  return status;
}

// A TLS 1.3 ClientHello record (SNI localhost, three cipher suites), as a TLS client opens.
std::string ClientHello() {
  std::string hello = {'\x03', '\x03'};          // legacy_version TLS 1.2
  hello += std::string(32, '\x5a');              // random
  hello += '\x00';                               // no session id
  hello += std::string("\x00\x06\x13\x01\x13\x02\xc0\x2f", 8);  // cipher suites
  hello += std::string("\x01\x00", 2);           // compression: null
  const std::string sni = std::string("\x00\x00\x00\x0e\x00\x0c\x00\x00\x09", 9) + "localhost";
  const std::string versions("\x00\x2b\x00\x03\x02\x03\x04", 7);
  const std::string extensions = sni + versions;
  hello += static_cast<char>(extensions.size() >> 8);
  hello += static_cast<char>(extensions.size() & 0xff);
  hello += extensions;
  std::string handshake = {'\x01', '\x00', static_cast<char>(hello.size() >> 8),
                           static_cast<char>(hello.size() & 0xff)};
  handshake += hello;
  std::string record = {'\x16', '\x03', '\x01', static_cast<char>(handshake.size() >> 8),
                        static_cast<char>(handshake.size() & 0xff)};
  return record + handshake;
}

std::string RandomBytes(std::mt19937& random, size_t size) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(byte(random));
  return bytes;
}

std::vector<Probe> HandWrittenProbes() {
  const std::string close = "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
  std::vector<Probe> probes = {
      {"root", "GET / HTTP/1.1\r\n" + close, Expect::kStatus, 404},
      {"favicon", "GET /favicon.ico HTTP/1.1\r\n" + close, Expect::kStatus, 404},
      {"dot-dot", "GET /metrics/../x HTTP/1.1\r\n" + close, Expect::kStatus, 404},
      {"escaped NUL", "GET /%00 HTTP/1.1\r\n" + close, Expect::kStatus, 404},
      {"metrics then NUL", "GET /metrics%00.txt HTTP/1.1\r\n" + close, Expect::kStatus, 404},
      {"absolute URI", "GET http://127.0.0.1/x HTTP/1.1\r\n" + close, Expect::kStatus, 404},
      {"HEAD metrics", "HEAD /metrics HTTP/1.1\r\n" + close, Expect::kStatus, 200, true},
      {"HEAD root", "HEAD / HTTP/1.1\r\n" + close, Expect::kStatus, 404, true},
      {"POST", "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n" + close + "hello",
       Expect::kStatus, 405},
      {"PUT huge length",
       "PUT /metrics HTTP/1.1\r\nContent-Length: 99999999999\r\n" + close + "only a little",
       Expect::kStatus, 405},
      {"PUT expect continue",
       "PUT /metrics HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n" + close,
       Expect::kStatus, 405},
      {"chunked garbage",
       "POST /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" + close + "zz\r\nxx\r\n",
       Expect::kStatus, 405},
      {"DELETE", "DELETE /metrics HTTP/1.1\r\n" + close, Expect::kStatus, 405},
      {"OPTIONS", "OPTIONS /metrics HTTP/1.1\r\n" + close, Expect::kStatus, 405},
      {"OPTIONS *", "OPTIONS * HTTP/1.1\r\n" + close, Expect::kStatus, 404},
      {"TRACE", "TRACE /metrics HTTP/1.1\r\n" + close, Expect::kStatus, 405},
      {"CONNECT", "CONNECT 127.0.0.1:9 HTTP/1.1\r\n" + close, Expect::kStatus, 404},
      {"lower-case get", "get /metrics HTTP/1.1\r\n" + close, Expect::kStatus, 405},
      {"HTTP/1.0", "GET /metrics HTTP/1.0\r\n\r\n", Expect::kStatus, 200},
      {"HTTP/0.9", "GET /metrics\r\n\r\n", Expect::kStatus, 400},
      {"HTTP/2.0 line", "GET /metrics HTTP/2.0\r\n\r\n", Expect::kStatus, 505},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Expect::kClientError},
      {"header without colon", "GET /metrics HTTP/1.1\r\nno colon\r\n" + close, Expect::kStatus,
       400},
      {"negative length", "POST /metrics HTTP/1.1\r\nContent-Length: -1\r\n" + close,
       Expect::kClientError},
      {"request line of 60 KB",
       absl::StrCat("GET /", std::string(60 * 1024, 'a'), " HTTP/1.1\r\n", close),
       Expect::kStatus, 414},
      {"header of 40 KB",
       absl::StrCat("GET /metrics HTTP/1.1\r\nX-Big: ", std::string(40 * 1024, 'b'), "\r\n",
                    close),
       Expect::kStatus, 431},
      {"bare LF", "GET /metrics HTTP/1.1\nHost: x\nConnection: close\n\n", Expect::kAnswerOrClose},
      {"NUL in header", std::string("GET /metrics HTTP/1.1\r\nX-A: a\0b\r\n", 33) + close,
       Expect::kAnswerOrClose},
      {"not HTTP", "garbage\r\n\r\n", Expect::kAnswerOrClose},
      {"TLS ClientHello", ClientHello(), Expect::kStatus, 400},
      {"binary without a line end", std::string("\x00\x01\x02\xff binary", 11), Expect::kStatus,
       400},
      {"empty lines only", "\r\n\r\n\r\n", Expect::kAnswerOrClose},
      {"nothing", "", Expect::kAnswerOrClose},
      {"half a request line", "GET /metr", Expect::kAnswerOrClose},
      {"half the headers", "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n", Expect::kAnswerOrClose},
  };
  std::string many_headers = "GET /metrics HTTP/1.1\r\n";
  for (int i = 0; i < 3000; ++i) absl::StrAppend(&many_headers, "X-", i, ": v\r\n");
  probes.push_back({"3000 headers", many_headers + close, Expect::kStatus, 431});
  return probes;
}

// Random bytes, and a valid request with a few bytes changed, inserted or dropped.
std::vector<Probe> GeneratedProbes() {
  std::mt19937 random(20261206);  // fixed: a failure names a reproducible probe
  std::vector<Probe> probes;
  for (int i = 0; i < 20; ++i) {
    const size_t size = std::uniform_int_distribution<size_t>(1, 8192)(random);
    probes.push_back({absl::StrCat("random bytes #", i), RandomBytes(random, size),
                      Expect::kAnswerOrClose});
  }
  const std::string valid =
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  for (int i = 0; i < 30; ++i) {
    std::string mutated = valid;
    const int edits = std::uniform_int_distribution<int>(1, 4)(random);
    for (int e = 0; e < edits && !mutated.empty(); ++e) {
      const size_t at = std::uniform_int_distribution<size_t>(0, mutated.size() - 1)(random);
      const char c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(random));
      switch (std::uniform_int_distribution<int>(0, 2)(random)) {
        case 0:
          mutated[at] = c;
          break;
        case 1:
          mutated.insert(mutated.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          mutated.erase(at, 1);
      }
    }
    probes.push_back({absl::StrCat("mutated request #", i), mutated, Expect::kAnswerOrClose});
  }
  return probes;
}

class HostileClientsTest : public SharedDescentdTest {
 protected:
  // Sends `probe` on its own connection, says it is done sending, and checks what comes back
  // before the server closes.
  void Send(const Probe& probe) {
    SCOPED_TRACE(probe.name);
    absl::StatusOr<std::unique_ptr<TcpConnection>> connection =
        TcpConnection::Open(server_->metrics_port());
    ASSERT_OK(connection);
    (*connection)->Send(probe.bytes);  // may fail: the server can refuse before reading it all
    // Input that is not a whole request ends with the client's end of stream, as a client that
    // gives up would; the others ask the server to close.
    if (probe.expect == Expect::kAnswerOrClose) (*connection)->FinishSending();
    const std::string reply = (*connection)->Receive(
        absl::Now() + kExchangeTimeout,
        probe.head ? std::function<bool(const std::string&)>() : IsCompleteHttpResponse);
    const int status = StatusOf(reply);
    switch (probe.expect) {
      case Expect::kStatus:
        EXPECT_EQ(status, probe.status) << reply.substr(0, 200);
        break;
      case Expect::kClientError:
        EXPECT_GE(status, 400) << reply.substr(0, 200);
        EXPECT_LE(status, 599) << reply.substr(0, 200);
        break;
      case Expect::kAnswerOrClose:
        EXPECT_TRUE(reply.empty() || (status >= 200 && status <= 599)) << reply.substr(0, 200);
        break;
    }
    if (!probe.head) {
      EXPECT_TRUE(reply.empty() || IsCompleteHttpResponse(reply)) << reply.substr(0, 200);
    }
  }

  static void ExpectMetricsServed() {
    absl::StatusOr<HttpResponse> scrape = HttpGet(server_->metrics_port(), "/metrics");
    ASSERT_OK(scrape);
    EXPECT_EQ(scrape->status, 200);
    EXPECT_THAT(scrape->body, HasSubstr("\ndescent_jobs_submitted_total "));
  }

  static void ExpectStillServing() {
    EXPECT_EQ(server_->process().Wait(absl::ZeroDuration()).status().code(),
              absl::StatusCode::kDeadlineExceeded)
        << "descentd exited: " << server_->process().Stderr();
    ExpectMetricsServed();
    const testing::ProcessResult health =
        RunCli(server_->address(), {"health"}, absl::Seconds(60));
    EXPECT_EQ(health.exit_code, 0) << health.err;
    EXPECT_THAT(health.out, HasSubstr("SERVING"));
  }

  // Connections that send nothing, or the start of a request (or TLS record, or HTTP/2
  // preface) and then nothing more; they stay open until the caller drops them.
  static std::vector<std::unique_ptr<TcpConnection>> Stall(int port) {
    std::vector<std::unique_ptr<TcpConnection>> stalled;
    for (const char* start : {"", "", "GET /metr", "GET /metrics HTTP/1.1\r\nHost: x\r\n",
                              "POST /metrics HTTP/1.1\r\nContent-Length: 1000\r\n\r\nab",
                              "\x16\x03\x01", "PRI * HTTP/2.0\r\n"}) {
      absl::StatusOr<std::unique_ptr<TcpConnection>> connection = TcpConnection::Open(port);
      EXPECT_OK(connection);
      if (!connection.ok()) continue;
      (*connection)->Send(start);
      stalled.push_back(*std::move(connection));
    }
    return stalled;
  }
};

TEST_F(HostileClientsTest, MetricsPortSurvivesABarrageAndKeepsServingScrapes) {
  ASSERT_GT(server_->metrics_port(), 0);
  // Stalled clients first: scrapes must get through while they hold their connections.
  std::vector<std::unique_ptr<TcpConnection>> stalled = Stall(server_->metrics_port());
  std::vector<Probe> probes = HandWrittenProbes();
  for (Probe& probe : GeneratedProbes()) probes.push_back(std::move(probe));
  ASSERT_GE(probes.size(), 50u);
  for (size_t i = 0; i < probes.size(); ++i) {
    Send(probes[i]);
    if (i % 10 == 0) ExpectMetricsServed();
  }
  // Two requests in one write: both answered, in order, on one connection.
  absl::StatusOr<std::unique_ptr<TcpConnection>> pipelined =
      TcpConnection::Open(server_->metrics_port());
  ASSERT_OK(pipelined);
  ASSERT_TRUE((*pipelined)->Send(
      "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string both = (*pipelined)->Receive(absl::Now() + kExchangeTimeout);
  EXPECT_EQ(StatusOf(both), 200);
  EXPECT_THAT(both, HasSubstr("HTTP/1.1 404"));
  ExpectMetricsServed();
  stalled.clear();
  ExpectStillServing();
}

TEST_F(HostileClientsTest, GrpcPortClosesNonGrpcClientsAndKeepsServing) {
  std::mt19937 random(7);
  const std::vector<std::string> inputs = {
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      "POST /descent.v1.TrainingService/ListJobs HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
      ClientHello(),
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + RandomBytes(random, 512),
      RandomBytes(random, 16),
      RandomBytes(random, 4096),
      RandomBytes(random, 65536),
  };
  // Held open, silent or half a preface, while the others are refused and health is asked.
  std::vector<std::unique_ptr<TcpConnection>> stalled = Stall(server_->port());
  for (size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("input #", i));
    absl::StatusOr<std::unique_ptr<TcpConnection>> connection = TcpConnection::Open(server_->port());
    ASSERT_OK(connection);
    (*connection)->Send(inputs[i]);
    // gRPC answers with its settings and a GOAWAY, then closes: nothing is held for them.
    EXPECT_TRUE((*connection)->WaitForClose(absl::Now() + kExchangeTimeout));
    EXPECT_OK(server_->NewClient()->CheckHealth());
  }
  stalled.clear();
  ExpectStillServing();
}

}  // namespace
}  // namespace descent::integration
