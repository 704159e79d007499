#include "server/observability/metrics_http_server.h"

#include <zlib.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "server/observability/gzip.h"
#include "server/observability/http_gate.h"
#include "tests/testing/http_get.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tcp_connection.h"

namespace descent::server {
namespace {

using ::descent::testing::HttpExchange;
using ::descent::testing::HttpGet;
using ::descent::testing::HttpResponse;
using ::descent::testing::IsCompleteHttpResponse;
using ::descent::testing::StatusIs;
using ::descent::testing::TcpConnection;
using ::testing::HasSubstr;
using ::testing::Not;

// A registry with one counter, collected by the server under test.
class MetricsHttpServerTest : public ::testing::Test {
 protected:
  MetricsHttpServerTest()
      : requests_(prometheus::BuildCounter()
                      .Name("test_requests_total")
                      .Help("Requests of the test.")
                      .Register(registry_)
                      .Add({})) {}

  void Start(const MetricsHttpLimits& limits = {}) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server = MetricsHttpServer::Start(
        "127.0.0.1:0",
        [this] {
          ++collections_;
          return registry_.Collect();
        },
        limits);
    ASSERT_OK(server);
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
  }

  absl::StatusOr<HttpResponse> Exchange(const std::string& request) {
    return HttpExchange(server_->port(), request);
  }

  prometheus::Registry registry_;
  prometheus::Counter& requests_;
  std::atomic<int> collections_ = 0;
  std::unique_ptr<MetricsHttpServer> server_;
};

std::string Gunzip(const std::string& compressed) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 16 + MAX_WBITS), Z_OK);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

TEST_F(MetricsHttpServerTest, GetServesTheCollectedFamiliesAndItsOwn) {
  Start();
  requests_.Increment(3);
  absl::StatusOr<HttpResponse> first = HttpGet(server_->port(), "/metrics");
  ASSERT_OK(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_THAT(first->headers, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(first->body, HasSubstr("# TYPE test_requests_total counter\ntest_requests_total 3\n"));
  EXPECT_THAT(first->body, HasSubstr("# TYPE exposer_request_latencies summary"));
  // A scrape is counted once it is answered: the first sees none, the second sees one.
  EXPECT_THAT(first->body, HasSubstr("\nexposer_scrapes_total 0\n"));
  absl::StatusOr<HttpResponse> second = HttpGet(server_->port(), "/metrics?debug=1");
  ASSERT_OK(second);
  EXPECT_THAT(second->body, HasSubstr("\nexposer_scrapes_total 1\n"));
  EXPECT_THAT(second->body, HasSubstr(absl::StrCat("\nexposer_transferred_bytes_total ",
                                                   first->body.size(), "\n")));
  EXPECT_EQ(collections_, 2);
}

TEST_F(MetricsHttpServerTest, HeadAnswersWithHeadersOnlyAndIsNotAScrape) {
  Start();
  absl::StatusOr<HttpResponse> head =
      Exchange("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_OK(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_THAT(head->headers, HasSubstr("Content-Length: "));
  EXPECT_EQ(head->body, "");
  absl::StatusOr<HttpResponse> get = HttpGet(server_->port(), "/metrics");
  ASSERT_OK(get);
  EXPECT_THAT(get->body, HasSubstr("\nexposer_scrapes_total 0\n"));
}

TEST_F(MetricsHttpServerTest, OtherPathsAre404AndOtherMethods405) {
  Start();
  for (const char* path : {"/", "/favicon.ico", "/metrics/", "/metrics/../x", "/%00", "/metrics%00",
                           "/m%65trics", "/metricsx"}) {
    absl::StatusOr<HttpResponse> response = HttpGet(server_->port(), path);
    ASSERT_OK(response) << path;
    EXPECT_EQ(response->status, 404) << path;
  }
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "get"}) {
    absl::StatusOr<HttpResponse> response = Exchange(
        absl::StrCat(method, " /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    ASSERT_OK(response) << method;
    EXPECT_EQ(response->status, 405) << method;
    EXPECT_THAT(response->headers, HasSubstr("Allow: GET, HEAD")) << method;
  }
  EXPECT_EQ(collections_, 0);
}

TEST_F(MetricsHttpServerTest, ARefusedBodyIsNeitherWaitedForNorRead) {
  Start();
  // Promises far more than it sends: the answer must not wait for the rest.
  absl::StatusOr<HttpResponse> response = Exchange(
      "PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\npartial body");
  ASSERT_OK(response);
  EXPECT_EQ(response->status, 405);
  absl::StatusOr<HttpResponse> get_with_body =
      Exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc");
  ASSERT_OK(get_with_body);
  EXPECT_EQ(get_with_body->status, 200);
}

TEST_F(MetricsHttpServerTest, MalformedAndOversizedRequestsGetClientErrors) {
  Start();
  const std::string long_target(60 * 1024, 'a');
  const std::string long_header(40 * 1024, 'b');
  const struct {
    std::string request;
    int status;
  } cases[] = {
      {"GET /metrics\r\n\r\n", 400},  // HTTP/0.9
      {"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", 400},
      {"GET /metrics HTTP/2.0\r\n\r\n", 505},
      {absl::StrCat("GET /", long_target, " HTTP/1.1\r\nHost: x\r\n\r\n"), 414},
      {absl::StrCat("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ", long_header, "\r\n\r\n"), 431},
  };
  for (const auto& [request, status] : cases) {
    absl::StatusOr<HttpResponse> response = Exchange(request);
    ASSERT_OK(response) << request.substr(0, 40);
    EXPECT_EQ(response->status, status) << request.substr(0, 40);
  }
  // A first line that is not "method target version" is not HTTP: closed without an answer.
  EXPECT_THAT(Exchange("garbage\r\n\r\n"), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("closed")));
  absl::StatusOr<HttpResponse> after = HttpGet(server_->port(), "/metrics");
  ASSERT_OK(after);
  EXPECT_EQ(after->status, 200);
}

// A TLS client on the plaintext port, or bytes that cannot begin a request, hear "400" as
// soon as their first byte arrives, not after the idle timeout (600 s here) closes them.
TEST_F(MetricsHttpServerTest, InputThatCannotStartARequestIsAnswered400AtOnce) {
  MetricsHttpLimits limits;
  limits.idle_timeout_seconds = 600;
  Start(limits);
  for (const std::string& start :
       {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
        std::string("\x00binary", 7), std::string(" GET /metrics", 13)}) {
    absl::StatusOr<std::unique_ptr<TcpConnection>> connection =
        TcpConnection::Open(server_->port());
    ASSERT_OK(connection);
    ASSERT_TRUE((*connection)->Send(start));
    const std::string raw =
        (*connection)->Receive(absl::Now() + absl::Seconds(60), IsCompleteHttpResponse);
    EXPECT_THAT(raw, ::testing::StartsWith("HTTP/1.1 400 ")) << start;
    EXPECT_TRUE((*connection)->WaitForClose(absl::Now() + absl::Seconds(60))) << start;
  }
  absl::StatusOr<HttpResponse> scrape = HttpGet(server_->port(), "/metrics");
  ASSERT_OK(scrape);
  EXPECT_EQ(scrape->status, 200);
}

TEST(HttpGateTest, ARequestStartsWithAMethodCharacterOrAnEmptyLine) {
  for (const char byte : std::string("GPHDOTCgp0!#$%&'*+-.^_`|~\r\n")) {
    EXPECT_TRUE(HttpGate::CanStartRequest(static_cast<unsigned char>(byte))) << int{byte};
  }
  for (const int byte : {0x16, 0x00, 0x80, 0xff, 0x20, 0x28, 0x3a, 0x2f, 0x22, 0x09}) {
    EXPECT_FALSE(HttpGate::CanStartRequest(static_cast<unsigned char>(byte))) << byte;
  }
}

TEST_F(MetricsHttpServerTest, CompressesForClientsThatAcceptGzip) {
  Start();
  requests_.Increment(7);
  absl::StatusOr<HttpResponse> plain = HttpGet(server_->port(), "/metrics");
  ASSERT_OK(plain);
  absl::StatusOr<HttpResponse> gzipped = Exchange(
      "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n");
  ASSERT_OK(gzipped);
  EXPECT_EQ(gzipped->status, 200);
  EXPECT_THAT(gzipped->headers, HasSubstr("Content-Encoding: gzip"));
  EXPECT_THAT(plain->headers, Not(HasSubstr("Content-Encoding")));
  const std::string text = Gunzip(gzipped->body);
  EXPECT_THAT(text, HasSubstr("\ntest_requests_total 7\n"));
  EXPECT_LT(gzipped->body.size(), text.size());
}

TEST_F(MetricsHttpServerTest, KeepsAConnectionOpenForTheNextScrape) {
  Start();
  absl::StatusOr<std::unique_ptr<TcpConnection>> connection = TcpConnection::Open(server_->port());
  ASSERT_OK(connection);
  for (int scrape = 0; scrape < 3; ++scrape) {
    ASSERT_TRUE((*connection)->Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string raw =
        (*connection)->Receive(absl::Now() + absl::Seconds(10), IsCompleteHttpResponse);
    ASSERT_TRUE(IsCompleteHttpResponse(raw)) << raw;
    EXPECT_THAT(raw, HasSubstr(absl::StrCat("\nexposer_scrapes_total ", scrape, "\n")));
  }
}

TEST_F(MetricsHttpServerTest, StalledClientsDoNotBlockScrapesAndAreClosedWhenIdle) {
  MetricsHttpLimits limits;
  limits.idle_timeout_seconds = 1;
  Start(limits);
  std::vector<std::unique_ptr<TcpConnection>> stalled;
  for (const char* start : {"", "GET /metr", "GET /metrics HTTP/1.1\r\nHost: x\r\n"}) {
    absl::StatusOr<std::unique_ptr<TcpConnection>> connection =
        TcpConnection::Open(server_->port());
    ASSERT_OK(connection);
    ASSERT_TRUE((*connection)->Send(start));
    stalled.push_back(*std::move(connection));
  }
  absl::StatusOr<HttpResponse> scrape = HttpGet(server_->port(), "/metrics");
  ASSERT_OK(scrape);
  EXPECT_EQ(scrape->status, 200);
  for (auto& connection : stalled) {
    EXPECT_TRUE(connection->WaitForClose(absl::Now() + absl::Seconds(60)));
  }
}

TEST_F(MetricsHttpServerTest, ConnectionsPastTheLimitAreClosedAtOnce) {
  MetricsHttpLimits limits;
  limits.max_connections_per_ip = 2;
  limits.idle_timeout_seconds = 600;  // the held connections stay open throughout
  Start(limits);
  std::vector<std::unique_ptr<TcpConnection>> held;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::unique_ptr<TcpConnection>> connection =
        TcpConnection::Open(server_->port());
    ASSERT_OK(connection);
    held.push_back(*std::move(connection));
  }
  // The kernel accepts the third; the server closes it instead of serving it.
  absl::StatusOr<std::unique_ptr<TcpConnection>> third = TcpConnection::Open(server_->port());
  ASSERT_OK(third);
  EXPECT_TRUE((*third)->WaitForClose(absl::Now() + absl::Seconds(60)));
  held.pop_back();
  // A freed slot serves again (the server notices the close on its next poll).
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  absl::StatusOr<HttpResponse> scrape = HttpGet(server_->port(), "/metrics");
  while (!scrape.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    scrape = HttpGet(server_->port(), "/metrics");
  }
  ASSERT_OK(scrape);
  EXPECT_EQ(scrape->status, 200);
}

TEST_F(MetricsHttpServerTest, ReportsBadAddressesAndBusyPorts) {
  Start();
  const auto collect = [] { return std::vector<prometheus::MetricFamily>{}; };
  for (const char* address : {"9464", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", "::1:0",
                              ":9464", "[::1:0"}) {
    EXPECT_THAT(MetricsHttpServer::Start(address, collect),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host:port")))
        << address;
  }
  const std::string busy = absl::StrCat("127.0.0.1:", server_->port());
  EXPECT_THAT(MetricsHttpServer::Start(busy, collect),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("in use")));
}

TEST(GzipTest, AcceptsGzipReadsCodingsAndQualities) {
  EXPECT_FALSE(AcceptsGzip(nullptr));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("deflate, br"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=zero"));
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
}

TEST(GzipTest, CompressesToAGzipMemberThatInflatesBack) {
  const std::string text = "descent_training_steps_total 42\n";
  std::string repeated;
  for (int i = 0; i < 1000; ++i) repeated += text;
  for (const std::string& input : {std::string(), repeated}) {
    absl::StatusOr<std::string> compressed = GzipCompress(input);
    ASSERT_OK(compressed);
    ASSERT_GE(compressed->size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>((*compressed)[0]), 0x1f);  // gzip magic
    EXPECT_EQ(static_cast<unsigned char>((*compressed)[1]), 0x8b);
    EXPECT_EQ(Gunzip(*compressed), input);
  }
}

}  // namespace
}  // namespace descent::server
