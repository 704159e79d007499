// `descent lr-find` against the real descentd, on the learning-rate examples: the rate it
// suggests for the house-prices SGD task trains the too-low example to a converged, low
// validation loss and stays clear of the too-high example's rate.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/process.h"

namespace descent::integration {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kCliTimeout = absl::Seconds(120);

std::string Example(const std::string& name) {
  return absl::StrCat(DESCENT_SOURCE_DIR, "/examples/", name);
}

template <typename Message>
Message FromJson(const std::string& json) {
  Message message;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &message).ok()) << json;
  return message;
}

class LrFindTest : public SharedDescentdTest {
 protected:
  static testing::ProcessResult Cli(std::vector<std::string> args) {
    return RunCli(server_->address(), std::move(args), kCliTimeout);
  }

  // Trains `spec` to its end through the CLI; the finished job. The watch exits 0 only when
  // the job succeeded with a verdict that is neither DIVERGED nor STALLED.
  static v1::Job Train(const v1::JobSpec& spec) {
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(spec, &json).ok());
    const std::string path = testing::WriteTempFile("lr_find_test.json", json);
    const testing::ProcessResult submitted = Cli({"-o", "json", "submit", path});
    EXPECT_EQ(submitted.exit_code, 0) << submitted.err;
    const std::string id = FromJson<v1::Job>(submitted.out).id();
    const testing::ProcessResult watched = Cli({"watch", id, "--fail-on", "diverged,stalled"});
    EXPECT_EQ(watched.exit_code, 0) << watched.out << watched.err;
    return FromJson<v1::Job>(Cli({"-o", "json", "get", id}).out);
  }
};

TEST_F(LrFindTest, TheSuggestionTrainsTheTooLowExampleAndStaysClearOfTheTooHighRate) {
  const testing::ProcessResult found = Cli({"-o", "json", "lr-find", Example("lr-too-low.json")});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  const v1::LrFindResult result = FromJson<v1::LrFindResult>(found.out);
  const double suggested = result.suggested_learning_rate();
  EXPECT_EQ(result.points_size() > 0 ? result.points(0).learning_rate() : 0, 1e-7);
  ASSERT_EQ(result.candidates_size(), 3);

  const v1::JobSpec too_low =
      FromJson<v1::JobSpec>(testing::ReadWholeFile(Example("lr-too-low.json")));
  const double too_high = FromJson<v1::JobSpec>(testing::ReadWholeFile(Example("lr-too-high.json")))
                              .optimizer()
                              .sgd()
                              .learning_rate();
  // Clear of the rate that diverges: at least ten times lower, and above the crawling one.
  EXPECT_LT(suggested, too_high / 10);
  EXPECT_GT(suggested, too_low.optimizer().sgd().learning_rate() * 100);

  // The example's 30 epochs leave every SGD rate on this task still falling (LEARNING, even
  // lr-just-right's 0.003); 120 epochs are what converging takes.
  v1::JobSpec with_suggestion = too_low;
  with_suggestion.mutable_optimizer()->mutable_sgd()->set_learning_rate(suggested);
  with_suggestion.mutable_training()->set_epochs(120);
  const v1::Job trained = Train(with_suggestion);
  ASSERT_EQ(trained.state(), v1::SUCCEEDED) << trained.error();
  EXPECT_EQ(trained.diagnosis().verdict(), v1::CONVERGED)
      << "suggested " << suggested << "; " << trained.diagnosis().message();
  // The example as it is crawls (STALLED, which --fail-on would refuse), so it is watched
  // with the default --fail-on here.
  const testing::ProcessResult as_is =
      Cli({"-o", "json", "submit", Example("lr-too-low.json"), "--watch"});
  ASSERT_EQ(as_is.exit_code, 0) << as_is.err;
  const v1::Job crawled =
      FromJson<v1::Job>(Cli({"-o", "json", "get", FromJson<v1::Job>(as_is.out.substr(
                                                      0, as_is.out.find('\n'))).id()})
                            .out);
  EXPECT_EQ(crawled.diagnosis().verdict(), v1::STALLED);
  // A validation loss a tenth of the crawl's or lower, explaining most of the variance.
  EXPECT_LT(trained.validation_loss(), crawled.validation_loss() / 10)
      << "suggested " << suggested << "; " << trained.diagnosis().message();
  EXPECT_GT(trained.validation_metrics().r2(), 0.85);
}

TEST_F(LrFindTest, TextShowsTheChartAgainstTheRateAndTheSuggestionsReason) {
  const testing::ProcessResult found =
      Cli({"lr-find", Example("spam.json"), "--min", "1e-5", "--max", "1", "--steps", "60"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_THAT(found.out, HasSubstr("smoothed loss"));
  EXPECT_THAT(found.out, HasSubstr("learning rate (log scale)"));
  EXPECT_THAT(found.out, HasSubstr("1e-05"));
  EXPECT_THAT(found.out, HasSubstr("\u25b2"));  // under the suggestion's column
  EXPECT_THAT(found.out, HasSubstr("suggested learning rate: "));
  EXPECT_THAT(found.out, HasSubstr("(steepest decade: "));
  EXPECT_THAT(found.out, HasSubstr("valley: "));
  EXPECT_THAT(found.out, HasSubstr("steepest slope"));
  EXPECT_THAT(found.out, HasSubstr("minimum / 10"));

  // A range the server refuses: a usage error naming the field.
  const testing::ProcessResult refused =
      Cli({"lr-find", Example("spam.json"), "--steps", "5"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("lr_find.steps"));
}

}  // namespace
}  // namespace descent::integration
