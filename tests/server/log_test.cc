// descentd's log lines: the text and JSON forms of one event, JSON that parses whatever the
// message holds, and LogCapture.
#include "server/observability/log.h"

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace descent::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kTime =
    absl::FromCivil(absl::CivilSecond(2026, 12, 6, 19, 30, 6), absl::UTCTimeZone()) +
    absl::Milliseconds(410);

google::protobuf::Struct ParseJson(const std::string& line) {
  google::protobuf::Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(line, &parsed);
  EXPECT_TRUE(status.ok()) << status << ": " << line;
  return parsed;
}

TEST(LogTest, TextIsTimeLevelEventAndMessageOnOneLine) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kTime, LogLevel::kWarning, "job_failed",
                          "job job-1 \"x\" FAILED:\nline two", {{"job_id", "job-1"}}),
            "2026-12-06T19:30:06.410Z WARN job_failed: job job-1 \"x\" FAILED: line two");
}

TEST(LogTest, JsonHasTimeLevelEventFieldsAndMessage) {
  const std::string line =
      FormatLogLine(LogFormat::kJson, kTime, LogLevel::kInfo, "job_succeeded", "done",
                    {{"job_id", "job-1"}, {"steps", int64_t{1200}}, {"run_seconds", 1.5}});
  EXPECT_EQ(line, R"({"time":"2026-12-06T19:30:06.410Z","level":"info","event":"job_succeeded",)"
                  R"("job_id":"job-1","steps":1200,"run_seconds":1.5,"message":"done"})");
  const google::protobuf::Struct parsed = ParseJson(line);
  EXPECT_EQ(parsed.fields().at("steps").number_value(), 1200);
  EXPECT_EQ(parsed.fields().at("level").string_value(), "info");
}

TEST(LogTest, JsonEscapesQuotesBackslashesAndControlCharacters) {
  const std::string nasty = "a \"quoted\" \\path\\ with\nnewline\ttab\x01 and \xc3\xa9";
  const std::string line = FormatLogLine(LogFormat::kJson, kTime, LogLevel::kError, "grpc", nasty,
                                         {{"error", nasty}, {"not_a_number", NAN}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const google::protobuf::Struct parsed = ParseJson(line);
  EXPECT_EQ(parsed.fields().at("message").string_value(), nasty);
  EXPECT_EQ(parsed.fields().at("error").string_value(), nasty);
  EXPECT_EQ(parsed.fields().at("not_a_number").string_value(), "nan");  // a string, still JSON
}

TEST(LogTest, FormatNamesParse) {
  EXPECT_EQ(ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("JSON"), std::nullopt);
  EXPECT_EQ(ParseLogFormat(""), std::nullopt);
}

TEST(LogTest, CaptureReceivesLinesInTheCurrentFormat) {
  std::vector<std::string> lines;
  {
    LogCapture capture([&](const std::string& line) { lines.push_back(line); });
    SetLogFormat(LogFormat::kJson);
    Log(LogLevel::kInfo, "started", "serving", {{"grpc_port", 50051}});
    SetLogFormat(LogFormat::kText);
    Log(LogLevel::kInfo, "stopped", "stopped");
  }
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(ParseJson(lines[0]).fields().at("grpc_port").number_value(), 50051);
  EXPECT_THAT(lines[1], HasSubstr(" INFO stopped: stopped"));
}

}  // namespace
}  // namespace descent::server
