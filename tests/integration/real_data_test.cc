// Real tables through the real binaries: `descent upload` of classic datasets (converted from
// Debian's python3-sklearn copies by tests/data/make_real_tables.py), jobs that reference them
// by name with standardised features, held-out quality checked against published results for
// small MLPs, and `descent predict` on a CSV that prints the rows back with the predictions.
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/descent_client.h"
#include "descent/v1/datasets.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kCliTimeout = absl::Seconds(300);

std::string Table(const std::string& name) {
  return absl::StrCat(DESCENT_SOURCE_DIR, "/tests/data/", name);
}

class RealDataTest : public SharedDescentdTest {
 protected:
  static testing::ProcessResult Cli(std::vector<std::string> args,
                                    const std::string& address = "") {
    return RunCli(address.empty() ? server_->address() : address, std::move(args), kCliTimeout);
  }

  // Uploads tests/data/<file> as `name`, submits `spec` and follows it to its end through
  // the CLI; returns the finished job.
  static v1::Job Train(const std::string& file, const std::string& name,
                       const std::string& spec) {
    testing::ProcessResult upload = Cli({"upload", Table(file), "--name", name});
    EXPECT_EQ(upload.exit_code, 0) << upload.err;
    EXPECT_THAT(upload.out, StartsWith(absl::StrCat("uploaded ", name, " (ds-")));
    testing::ProcessResult submit =
        Cli({"-o", "json", "submit", "--watch", WriteTempFile(name + ".json", spec)});
    EXPECT_EQ(submit.exit_code, 0) << submit.err << submit.out;
    v1::Job job;
    for (absl::string_view line : absl::StrSplit(submit.out, '\n', absl::SkipEmpty())) {
      v1::WatchJobResponse event;
      if (google::protobuf::util::JsonStringToMessage(std::string(line), &event).ok() &&
          event.has_state()) {
        job = event.state().job();
      }
    }
    if (job.id().empty()) ADD_FAILURE() << "no final state in: " << submit.out.substr(0, 2000);
    return job;
  }
};

// Fisher's iris: 150 flowers, 4 measurements, 3 species (text labels).
// Published: a small MLP reaches 0.95-0.97 held-out accuracy on iris (e.g. Weka's
// MultilayerPerceptron, 10-fold cross-validation 97.3%, in Witten, Frank & Hall, "Data
// Mining", 3rd ed., 2011). Our 30-flower validation split must reach 0.9 (27 of 30): one
// flower's margin below the low end of that range, so the test is not flaky.
TEST_F(RealDataTest, IrisThreeClassesAndPredictPrintsSpeciesNames) {
  const v1::Job job = Train("iris.csv", "iris", R"({
    "name": "iris",
    "dataset": {"name": "iris", "targets": ["species"], "standardize": true},
    "model": {"hiddenLayers": [{"units": 16, "activation": "RELU"}]},
    "loss": "CATEGORICAL_CROSS_ENTROPY",
    "optimizer": {"adam": {"learningRate": 0.01}},
    "training": {"epochs": 100, "batchSize": 16, "seed": 7, "validationFraction": 0.2}
  })");
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_GE(job.validation_metrics().accuracy(), 0.9);

  // Predict on the table itself, columns reordered and the label kept for the reader: the
  // features are picked by name and the CSV comes back with the species appended.
  std::string rows = "species,petal_width_cm,petal_length_cm,sepal_width_cm,sepal_length_cm\n";
  const std::string iris = ReadWholeFile(Table("iris.csv"));
  std::vector<std::string> lines = absl::StrSplit(iris, '\n', absl::SkipEmpty());
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], ',');
    absl::StrAppend(&rows, f[4], ",", f[3], ",", f[2], ",", f[1], ",", f[0], "\n");
  }
  testing::ProcessResult predict =
      Cli({"predict", job.id(), "--input", WriteTempFile("iris-rows.csv", rows)});
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  std::vector<std::string> out = absl::StrSplit(predict.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(out.size(), lines.size());
  EXPECT_EQ(out[0], "species,petal_width_cm,petal_length_cm,sepal_width_cm,sepal_length_cm,"
                    "predicted_species,probability");
  int correct = 0;
  for (size_t i = 1; i < out.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(out[i], ',');
    ASSERT_EQ(f.size(), 7u) << out[i];
    EXPECT_THAT(f[5], ::testing::AnyOf("setosa", "versicolor", "virginica"));
    correct += f[5] == f[0];
  }
  EXPECT_GE(correct, 140) << "of 150";  // training and validation rows together
}

// Wisconsin diagnostic breast cancer: 569 tumours, 30 features, malignant or benign.
// Published: Müller & Guido, "Introduction to Machine Learning with Python" (O'Reilly,
// 2016), ch. 2: sklearn's MLPClassifier (one hidden layer of 100) reaches test accuracy 0.965
// once the features are standardised (0.88 without). Our 113-tumour validation split must
// reach 0.93.
TEST_F(RealDataTest, BreastCancerTwoClasses) {
  const v1::Job job = Train("breast_cancer.csv", "breast-cancer", R"({
    "name": "breast-cancer",
    "dataset": {"name": "breast-cancer", "targets": ["diagnosis"], "standardize": true},
    "model": {"hiddenLayers": [{"units": 16, "activation": "RELU"}]},
    "loss": "BINARY_CROSS_ENTROPY",
    "optimizer": {"adam": {"learningRate": 0.003}},
    "training": {"epochs": 40, "batchSize": 32, "seed": 11, "validationFraction": 0.2}
  })");
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_GE(job.validation_metrics().accuracy(), 0.93);
}

// Efron et al.'s diabetes data: 442 patients, 10 baseline variables, disease progression a
// year later. Published: Efron, Hastie, Johnstone & Tibshirani, "Least Angle Regression",
// Annals of Statistics 32(2), 2004: the linear model on all ten variables explains R² = 0.52
// of the variance in-sample; held-out R² of small models on this data is about 0.4-0.5.
// Our 88-patient validation split must reach R² 0.35.
TEST_F(RealDataTest, DiabetesRegression) {
  const v1::Job job = Train("diabetes.csv", "diabetes", R"({
    "name": "diabetes",
    "dataset": {"name": "diabetes", "targets": ["progression"], "standardize": true},
    "model": {"hiddenLayers": [{"units": 16, "activation": "RELU"}]},
    "loss": "MEAN_SQUARED_ERROR",
    "optimizer": {"adam": {"learningRate": 0.05}},
    "training": {"epochs": 150, "batchSize": 32, "seed": 5, "validationFraction": 0.2}
  })");
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_GE(job.validation_metrics().r2(), 0.35);
}

TEST_F(RealDataTest, DatasetsListRemoveAndErrors) {
  // Its own bytes, so the other tests' uploads do not interfere.
  const std::string small = WriteTempFile("small.csv", "x,\"label, text\"\r\n1,a\r\n2,b\r\n");
  testing::ProcessResult upload = Cli({"upload", small, "--name", "small"});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  EXPECT_THAT(upload.out, HasSubstr("label, text: text, 2 values (a, b)"));
  // The same bytes under another name are the same dataset, now under both names.
  testing::ProcessResult again = Cli({"upload", small, "--name", "small-2"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, StartsWith("already stored as small, small-2 (ds-"));
  EXPECT_THAT(again.out, HasSubstr("\"dataset\": {\"name\": \"small-2\""));

  testing::ProcessResult list = Cli({"datasets"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("small,small-2  ds-"));
  // -o json: one Dataset per line, as every listing.
  testing::ProcessResult json = Cli({"-o", "json", "datasets"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  bool listed = false;
  for (absl::string_view line : absl::StrSplit(json.out, '\n', absl::SkipEmpty())) {
    v1::Dataset dataset;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &dataset).ok())
        << line;
    if (dataset.name() == "small") {
      EXPECT_THAT(dataset.names(), ::testing::ElementsAre("small", "small-2"));
      listed = true;
    }
  }
  EXPECT_TRUE(listed) << json.out;

  const std::string bad = WriteTempFile("bad.csv", "a,b,label\n1,2,x\n3,oops\n");
  testing::ProcessResult rejected = Cli({"upload", bad, "--name", "bad"});
  EXPECT_EQ(rejected.exit_code, 2);
  EXPECT_THAT(rejected.err, HasSubstr("line 3, column 3:"));

  // Removing one name keeps the content for the other: a job can still name it.
  testing::ProcessResult removed = Cli({"dataset", "rm", "small"});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_THAT(removed.out, StartsWith("removed the name small; the content (ds-"));
  EXPECT_THAT(removed.out, HasSubstr(") stays as small-2"));
  testing::ProcessResult missing = Cli({"dataset", "rm", "small"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("\"small\""));
  const std::string spec = WriteTempFile("small-2.json", R"({
    "dataset": {"name": "small-2", "targets": ["label, text"]},
    "loss": "BINARY_CROSS_ENTROPY", "optimizer": {"sgd": {"learningRate": 0.1}},
    "training": {"epochs": 1}})");
  testing::ProcessResult trained = Cli({"submit", spec, "--watch"});
  EXPECT_EQ(trained.exit_code, 0) << trained.err;
  testing::ProcessResult last = Cli({"dataset", "rm", "small-2"});
  EXPECT_EQ(last.exit_code, 0) << last.err;
  EXPECT_THAT(last.out, StartsWith("deleted small-2 (ds-"));
}

TEST(RealDataLimitTest, UploadOverTheLimitIsRefused) {
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server =
      DescentdProcess::Start({"--max-dataset-bytes", "20000"});
  ASSERT_OK(server);
  std::vector<std::string> argv = {DESCENT_CLI_PATH, "--server", (*server)->address(), "upload",
                                   Table("breast_cancer.csv")};
  absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(argv, kCliTimeout, {});
  ASSERT_OK(result);
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_THAT(result->err, HasSubstr("--max-dataset-bytes"));
}

}  // namespace
}  // namespace descent::integration
