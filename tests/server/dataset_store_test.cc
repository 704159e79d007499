#include "server/datasets/dataset_store.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

namespace fs = std::filesystem;
using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

constexpr char kIris[] =
    "sepal_length,sepal_width,species\n"
    "5.1,3.5,setosa\n"
    "7.0,3.2,versicolor\n"
    "6.3,3.3,virginica\n"
    "4.9,3.0,setosa\n";

class DatasetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/dataset_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern + "/datasets";  // Open creates it
  }
  void TearDown() override { fs::remove_all(fs::path(dir_).parent_path()); }

  std::unique_ptr<DatasetStore> Open() {
    absl::StatusOr<std::unique_ptr<DatasetStore>> store = DatasetStore::Open(dir_);
    EXPECT_OK(store);
    return store.ok() ? *std::move(store) : nullptr;
  }
  std::set<std::string> Files() const {
    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      files.insert(entry.path().filename().string());
    }
    return files;
  }
  static absl::Time At(int seconds) { return absl::FromUnixSeconds(1'700'000'000 + seconds); }

  std::string dir_;
};

TEST_F(DatasetStoreTest, PutDescribesTheTableAndGetFindsItByIdOrName) {
  auto store = Open();
  absl::StatusOr<PutResult> put = store->Put("iris", kIris, At(0));
  ASSERT_OK(put);
  EXPECT_FALSE(put->already_stored);
  const v1::Dataset& dataset = put->dataset;
  EXPECT_THAT(dataset.id(), MatchesRegex("ds-[0-9a-f]{16}"));
  EXPECT_EQ(dataset.id(), DatasetIdFor(kIris));
  EXPECT_EQ(dataset.name(), "iris");
  EXPECT_EQ(dataset.rows(), 4);
  EXPECT_EQ(dataset.size_bytes(), static_cast<int64_t>(std::string(kIris).size()));
  EXPECT_EQ(dataset.create_time().seconds(), 1'700'000'000);
  ASSERT_EQ(dataset.columns_size(), 3);
  EXPECT_EQ(dataset.columns(0).type(), v1::NUMERIC);
  EXPECT_EQ(dataset.columns(0).distinct_values(), 4);
  EXPECT_EQ(dataset.columns(2).name(), "species");
  EXPECT_EQ(dataset.columns(2).type(), v1::TEXT);
  EXPECT_THAT(dataset.columns(2).categories(), ElementsAre("setosa", "versicolor", "virginica"));
  EXPECT_EQ(dataset.columns(2).first_text_line(), 2);

  absl::StatusOr<v1::Dataset> by_name = store->Get("iris");
  ASSERT_OK(by_name);
  EXPECT_EQ(by_name->id(), dataset.id());
  absl::StatusOr<v1::Dataset> by_id = store->Get(dataset.id());
  ASSERT_OK(by_id);
  EXPECT_EQ(by_id->name(), "iris");
  EXPECT_THAT(store->Get("wine"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"wine\"")));
  EXPECT_EQ(Files(), (std::set<std::string>{dataset.id() + ".csv", dataset.id() + ".json"}));
}

TEST_F(DatasetStoreTest, IdenticalBytesAreStoredOnceUnderEveryNameGiven) {
  auto store = Open();
  absl::StatusOr<PutResult> first = store->Put("iris", kIris, At(0));
  ASSERT_OK(first);
  absl::StatusOr<PutResult> again = store->Put("iris-copy", kIris, At(5));
  ASSERT_OK(again);
  EXPECT_TRUE(again->already_stored);
  EXPECT_EQ(again->dataset.id(), first->dataset.id());
  EXPECT_EQ(again->dataset.name(), "iris");
  EXPECT_THAT(again->dataset.names(), ElementsAre("iris", "iris-copy"));
  EXPECT_EQ(again->dataset.create_time().seconds(), first->dataset.create_time().seconds());
  // The new name finds the content, as a job's "dataset": {"name": "iris-copy"} will.
  absl::StatusOr<LoadedDataset> by_alias = store->Load("iris-copy");
  ASSERT_OK(by_alias);
  EXPECT_EQ(by_alias->dataset.id(), first->dataset.id());
  // Once more under a name it has, or none: nothing changes.
  for (const char* name : {"iris-copy", ""}) {
    absl::StatusOr<PutResult> same = store->Put(name, kIris, At(9));
    ASSERT_OK(same);
    EXPECT_THAT(same->dataset.names(), ElementsAre("iris", "iris-copy")) << name;
  }
  EXPECT_EQ(store->List().size(), 1u);
  EXPECT_EQ(Files().size(), 2u);
  // The names are kept on disk.
  store = Open();
  absl::StatusOr<v1::Dataset> reopened = store->Get("iris-copy");
  ASSERT_OK(reopened);
  EXPECT_THAT(reopened->names(), ElementsAre("iris", "iris-copy"));
}

TEST_F(DatasetStoreTest, EmptyNameMeansTheId) {
  auto store = Open();
  absl::StatusOr<PutResult> put = store->Put("", kIris, At(0));
  ASSERT_OK(put);
  EXPECT_EQ(put->dataset.name(), put->dataset.id());
  EXPECT_THAT(put->dataset.names(), IsEmpty());
  absl::StatusOr<PutResult> named = store->Put("iris", kIris, At(1));
  ASSERT_OK(named);
  EXPECT_EQ(named->dataset.name(), "iris");
}

TEST_F(DatasetStoreTest, MetadataFromBeforeAliasesKeepsItsName) {
  // What an older descentd wrote: the file, and metadata with a name and no names.
  const std::string id = DatasetIdFor(kIris);
  fs::create_directories(dir_);
  std::ofstream(fs::path(dir_) / (id + ".csv")) << kIris;
  std::ofstream(fs::path(dir_) / (id + ".json"))
      << R"({"id": ")" << id << R"(", "name": "old-iris", "rows": 4})";
  auto store = Open();
  absl::StatusOr<v1::Dataset> dataset = store->Get("old-iris");
  ASSERT_OK(dataset);
  EXPECT_THAT(dataset->names(), ElementsAre("old-iris"));
}

TEST_F(DatasetStoreTest, ANameTakenByOtherContentIsAlreadyExists) {
  auto store = Open();
  ASSERT_OK(store->Put("data", "a,b\n1,2\n", At(0)));
  EXPECT_THAT(store->Put("data", "a,b\n3,4\n", At(1)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("header.name \"data\"")));
  EXPECT_EQ(store->List().size(), 1u);
  // Also for stored content: a name never moves to other content.
  ASSERT_OK(store->Put("other", "a,b\n3,4\n", At(2)));
  EXPECT_THAT(store->Put("data", "a,b\n3,4\n", At(3)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("header.name \"data\"")));
  absl::StatusOr<v1::Dataset> other = store->Get("other");
  ASSERT_OK(other);
  EXPECT_THAT(other->names(), ElementsAre("other"));
}

TEST_F(DatasetStoreTest, BadNamesAndBadFilesStoreNothing) {
  auto store = Open();
  for (const char* name : {"has space", "ds-123", "a/b"}) {
    EXPECT_THAT(store->Put(name, kIris, At(0)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header.name")))
        << name;
  }
  EXPECT_THAT(store->Put(std::string(129, 'x'), kIris, At(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("128")));
  EXPECT_THAT(store->Put("ragged", "a,b\n1,2\n3\n", At(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("line 3, column 2:")));
  EXPECT_THAT(store->List(), IsEmpty());
  EXPECT_THAT(Files(), IsEmpty());
}

TEST_F(DatasetStoreTest, ListIsNewestFirst) {
  auto store = Open();
  ASSERT_OK(store->Put("old", "a,b\n1,2\n", At(0)));
  ASSERT_OK(store->Put("new", "a,b\n3,4\n", At(10)));
  ASSERT_OK(store->Put("mid", "a,b\n5,6\n", At(5)));
  std::vector<std::string> names;
  for (const v1::Dataset& dataset : store->List()) names.push_back(dataset.name());
  EXPECT_THAT(names, ElementsAre("new", "mid", "old"));
}

TEST_F(DatasetStoreTest, ReopenKeepsWholeDatasetsAndRemovesLeftovers) {
  std::string id;
  {
    auto store = Open();
    absl::StatusOr<PutResult> put = store->Put("iris", kIris, At(0));
    ASSERT_OK(put);
    id = put->dataset.id();
  }
  // What a crash mid-upload could leave: a temporary file, data without metadata, and
  // metadata whose data is gone.
  std::ofstream(fs::path(dir_) / "ds-aaaaaaaaaaaaaaaa.csv.tmp-123") << "partial";
  std::ofstream(fs::path(dir_) / "ds-bbbbbbbbbbbbbbbb.csv") << "a\n1\n";
  std::ofstream(fs::path(dir_) / "ds-cccccccccccccccc.json")
      << R"({"id": "ds-cccccccccccccccc", "name": "ghost"})";
  auto store = Open();
  absl::StatusOr<v1::Dataset> dataset = store->Get("iris");
  ASSERT_OK(dataset);
  EXPECT_EQ(dataset->id(), id);
  EXPECT_EQ(dataset->rows(), 4);
  EXPECT_THAT(store->Get("ghost"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("ghost")));
  EXPECT_EQ(Files(), (std::set<std::string>{id + ".csv", id + ".json"}));
  absl::StatusOr<LoadedDataset> loaded = store->Load(id);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->table.rows, 4);
}

TEST_F(DatasetStoreTest, DeleteAsksFirstThenRemovesBothFiles) {
  auto store = Open();
  absl::StatusOr<PutResult> put = store->Put("iris", kIris, At(0));
  ASSERT_OK(put);
  std::string asked_about;
  EXPECT_THAT(store->Delete("iris",
                            [&](const v1::Dataset& dataset) {
                              asked_about = dataset.id();
                              return absl::FailedPreconditionError("in use");
                            }),
              StatusIs(absl::StatusCode::kFailedPrecondition, "in use"));
  EXPECT_EQ(asked_about, put->dataset.id());
  EXPECT_OK(store->Get("iris"));
  EXPECT_EQ(Files().size(), 2u);

  auto allow = [](const v1::Dataset&) { return absl::OkStatus(); };
  absl::StatusOr<DeleteResult> deleted = store->Delete(put->dataset.id(), allow);
  ASSERT_OK(deleted);
  EXPECT_EQ(deleted->dataset.name(), "iris");
  EXPECT_THAT(deleted->remaining_names, IsEmpty());
  EXPECT_THAT(Files(), IsEmpty());
  EXPECT_THAT(store->Get("iris"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("iris")));
  EXPECT_THAT(store->Delete("iris", allow), StatusIs(absl::StatusCode::kNotFound, HasSubstr("iris")));
  // The name is free again.
  EXPECT_OK(store->Put("iris", "a,b\n1,2\n", At(1)));
}

TEST_F(DatasetStoreTest, DeletingOneOfSeveralNamesKeepsTheContent) {
  auto store = Open();
  ASSERT_OK(store->Put("iris", kIris, At(0)));
  ASSERT_OK(store->Put("iris2", kIris, At(1)));
  ASSERT_OK(store->Put("flowers", kIris, At(2)));
  bool asked = false;
  auto refuse = [&](const v1::Dataset&) {
    asked = true;
    return absl::FailedPreconditionError("in use");
  };
  // Removing a name deletes nothing, so a job using the content does not stand in the way.
  absl::StatusOr<DeleteResult> removed = store->Delete("iris", refuse);
  ASSERT_OK(removed);
  EXPECT_FALSE(asked);
  EXPECT_THAT(removed->remaining_names, ElementsAre("iris2", "flowers"));
  EXPECT_THAT(store->Get("iris"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("dataset")));
  absl::StatusOr<v1::Dataset> kept = store->Get("iris2");
  ASSERT_OK(kept);
  EXPECT_EQ(kept->name(), "iris2");  // the first name left
  EXPECT_OK(store->Load("flowers"));
  EXPECT_EQ(Files().size(), 2u);
  // The name is free for other content.
  EXPECT_OK(store->Put("iris", "a,b\n1,2\n", At(3)));

  // Persisted: a restart sees the same names.
  store = Open();
  absl::StatusOr<v1::Dataset> reopened = store->Get("flowers");
  ASSERT_OK(reopened);
  EXPECT_THAT(reopened->names(), ElementsAre("iris2", "flowers"));

  // The last name goes with the content, and asks first.
  auto allow = [](const v1::Dataset&) { return absl::OkStatus(); };
  ASSERT_OK(store->Delete("iris2", allow));
  EXPECT_THAT(store->Delete("flowers", refuse),
              StatusIs(absl::StatusCode::kFailedPrecondition, "in use"));
  absl::StatusOr<DeleteResult> deleted = store->Delete("flowers", allow);
  ASSERT_OK(deleted);
  EXPECT_THAT(deleted->remaining_names, IsEmpty());
  EXPECT_THAT(store->Get(reopened->id()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("dataset")));
  EXPECT_EQ(Files().size(), 2u);  // the other content, stored as "iris"
}

TEST_F(DatasetStoreTest, DeletingByIdRemovesEveryName) {
  auto store = Open();
  absl::StatusOr<PutResult> put = store->Put("iris", kIris, At(0));
  ASSERT_OK(put);
  ASSERT_OK(store->Put("iris2", kIris, At(1)));
  absl::StatusOr<DeleteResult> deleted =
      store->Delete(put->dataset.id(), [](const v1::Dataset&) { return absl::OkStatus(); });
  ASSERT_OK(deleted);
  EXPECT_THAT(deleted->dataset.names(), ElementsAre("iris", "iris2"));
  EXPECT_THAT(deleted->remaining_names, IsEmpty());
  EXPECT_THAT(store->Get("iris2"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("dataset")));
  EXPECT_THAT(Files(), IsEmpty());
}

TEST_F(DatasetStoreTest, LoadParsesTheFileAndNoticesAChangedOne) {
  auto store = Open();
  absl::StatusOr<PutResult> put = store->Put("iris", kIris, At(0));
  ASSERT_OK(put);
  absl::StatusOr<LoadedDataset> loaded = store->Load("iris");
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->dataset.id(), put->dataset.id());
  ASSERT_EQ(loaded->table.columns.size(), 3u);
  EXPECT_THAT(loaded->table.columns[2].codes, ElementsAre(0, 1, 2, 0));

  std::ofstream(fs::path(dir_) / (put->dataset.id() + ".csv")) << "a,b\n1,2\n";
  EXPECT_THAT(store->Load("iris"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(put->dataset.id())));
}

}  // namespace
}  // namespace descent::server
