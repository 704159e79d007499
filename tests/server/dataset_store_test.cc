// The dataset store's behaviour, the same for both backends (a test per backend: .../SQLite
// for the single box's files in --data-dir, .../PostgreSQL for the database replicas share):
// uploads described and stored once per content, names as aliases, ALREADY_EXISTS for a name
// of other content, deletes that ask first, newest-first listings, all surviving a reopen.
// Then what only one backend has: the files' crash leftovers and changed files; two replicas
// on one PostgreSQL database seeing each other's datasets, converging on one row, and a
// replica loading a dataset's bytes once.
#include "server/datasets/dataset_store.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/postgres/postgres_datasets.h"
#include "tests/server/store_under_test.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

namespace fs = std::filesystem;
using ::descent::server::testing::PostgresUnderTest;
using ::descent::server::testing::StoreKind;
using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::SizeIs;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

constexpr char kIris[] =
    "sepal_length,sepal_width,species\n"
    "5.1,3.5,setosa\n"
    "7.0,3.2,versicolor\n"
    "6.3,3.3,virginica\n"
    "4.9,3.0,setosa\n";

absl::Time At(int seconds) { return absl::FromUnixSeconds(1'700'000'000 + seconds); }

const auto kAllow = [](const v1::Dataset&) { return absl::OkStatus(); };

class DatasetStoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    if (GetParam() == StoreKind::kPostgres) {
      DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
      database_ = std::make_unique<PostgresUnderTest>(url);
      return;
    }
    std::string pattern = ::testing::TempDir() + "/dataset_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern + "/datasets";  // Open creates it
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(fs::path(dir_).parent_path());
  }

  // A store on this test's directory or database; a second one is another replica (or the
  // same box after a restart).
  std::unique_ptr<DatasetStore> Open() {
    if (database_ != nullptr) {
      absl::StatusOr<std::unique_ptr<PostgresDatasets>> backend =
          PostgresDatasets::Open(database_->url());
      EXPECT_OK(backend);
      return backend.ok() ? std::make_unique<DatasetStore>(*std::move(backend)) : nullptr;
    }
    absl::StatusOr<std::unique_ptr<DatasetStore>> store = DatasetStore::Open(dir_);
    EXPECT_OK(store);
    return store.ok() ? *std::move(store) : nullptr;
  }
  // How many contents are stored (files: a .csv each).
  int64_t StoredContents() {
    if (database_ != nullptr) return database_->QueryInt("SELECT count(*) FROM datasets");
    int64_t count = 0;
    for (const auto& entry : fs::directory_iterator(dir_)) count += entry.path().extension() == ".csv";
    return count;
  }
  static std::vector<std::string> Names(const absl::StatusOr<std::vector<v1::Dataset>>& list) {
    std::vector<std::string> names;
    EXPECT_OK(list);
    if (list.ok()) {
      for (const v1::Dataset& dataset : *list) names.push_back(dataset.name());
    }
    return names;
  }

  std::string dir_;                               // the files backend's directory
  std::unique_ptr<PostgresUnderTest> database_;  // the PostgreSQL backend's database
};

INSTANTIATE_TEST_SUITE_P(Backends, DatasetStoreTest,
                         ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         ::descent::server::testing::StoreKindName);

TEST_P(DatasetStoreTest, PutDescribesTheTableAndGetFindsItByIdOrName) {
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
  EXPECT_EQ(by_name->columns(2).categories_size(), 3);
  absl::StatusOr<v1::Dataset> by_id = store->Get(dataset.id());
  ASSERT_OK(by_id);
  EXPECT_EQ(by_id->name(), "iris");
  EXPECT_THAT(store->Get("wine"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"wine\"")));
  EXPECT_EQ(StoredContents(), 1);
}

TEST_P(DatasetStoreTest, IdenticalBytesAreStoredOnceUnderEveryNameGiven) {
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
    EXPECT_TRUE(same->already_stored);
    EXPECT_THAT(same->dataset.names(), ElementsAre("iris", "iris-copy")) << name;
  }
  EXPECT_THAT(Names(store->List()), ElementsAre("iris"));
  EXPECT_EQ(StoredContents(), 1);
  // The names are kept.
  store = Open();
  absl::StatusOr<v1::Dataset> reopened = store->Get("iris-copy");
  ASSERT_OK(reopened);
  EXPECT_THAT(reopened->names(), ElementsAre("iris", "iris-copy"));
}

TEST_P(DatasetStoreTest, EmptyNameMeansTheId) {
  auto store = Open();
  absl::StatusOr<PutResult> put = store->Put("", kIris, At(0));
  ASSERT_OK(put);
  EXPECT_EQ(put->dataset.name(), put->dataset.id());
  EXPECT_THAT(put->dataset.names(), IsEmpty());
  absl::StatusOr<PutResult> named = store->Put("iris", kIris, At(1));
  ASSERT_OK(named);
  EXPECT_EQ(named->dataset.name(), "iris");
}

TEST_P(DatasetStoreTest, ANameTakenByOtherContentIsAlreadyExists) {
  auto store = Open();
  ASSERT_OK(store->Put("data", "a,b\n1,2\n", At(0)));
  EXPECT_THAT(store->Put("data", "a,b\n3,4\n", At(1)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("header.name \"data\"")));
  EXPECT_THAT(Names(store->List()), ElementsAre("data"));
  EXPECT_EQ(StoredContents(), 1);  // the refused upload's content is not kept either
  // Also for stored content: a name never moves to other content.
  ASSERT_OK(store->Put("other", "a,b\n3,4\n", At(2)));
  EXPECT_THAT(store->Put("data", "a,b\n3,4\n", At(3)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("header.name \"data\"")));
  absl::StatusOr<v1::Dataset> other = store->Get("other");
  ASSERT_OK(other);
  EXPECT_THAT(other->names(), ElementsAre("other"));
}

TEST_P(DatasetStoreTest, BadNamesAndBadFilesStoreNothing) {
  auto store = Open();
  for (const char* name : {"has space", "ds-123", "a/b", "a,b"}) {
    EXPECT_THAT(store->Put(name, kIris, At(0)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header.name")))
        << name;
  }
  EXPECT_THAT(store->Put(std::string(129, 'x'), kIris, At(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("128")));
  EXPECT_THAT(store->Put("ragged", "a,b\n1,2\n3\n", At(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("line 3, column 2:")));
  EXPECT_THAT(Names(store->List()), IsEmpty());
  EXPECT_EQ(StoredContents(), 0);
}

TEST_P(DatasetStoreTest, ListIsNewestFirst) {
  auto store = Open();
  ASSERT_OK(store->Put("old", "a,b\n1,2\n", At(0)));
  ASSERT_OK(store->Put("new", "a,b\n3,4\n", At(10)));
  ASSERT_OK(store->Put("mid", "a,b\n5,6\n", At(5)));
  EXPECT_THAT(Names(store->List()), ElementsAre("new", "mid", "old"));
}

TEST_P(DatasetStoreTest, DeleteAsksFirstThenRemovesTheContent) {
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
  EXPECT_OK(store->Load("iris"));
  EXPECT_EQ(StoredContents(), 1);

  absl::StatusOr<DeleteResult> deleted = store->Delete(put->dataset.id(), kAllow);
  ASSERT_OK(deleted);
  EXPECT_EQ(deleted->dataset.name(), "iris");
  EXPECT_THAT(deleted->remaining_names, IsEmpty());
  EXPECT_EQ(StoredContents(), 0);
  EXPECT_THAT(store->Get("iris"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("iris")));
  EXPECT_THAT(store->Load("iris"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("iris")));
  EXPECT_THAT(store->Delete("iris", kAllow),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("iris")));
  // The name is free again.
  EXPECT_OK(store->Put("iris", "a,b\n1,2\n", At(1)));
}

TEST_P(DatasetStoreTest, DeletingOneOfSeveralNamesKeepsTheContent) {
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
  EXPECT_EQ(StoredContents(), 1);
  // The name is free for other content.
  EXPECT_OK(store->Put("iris", "a,b\n1,2\n", At(3)));

  // Persisted: a restart sees the same names.
  store = Open();
  absl::StatusOr<v1::Dataset> reopened = store->Get("flowers");
  ASSERT_OK(reopened);
  EXPECT_THAT(reopened->names(), ElementsAre("iris2", "flowers"));

  // The last name goes with the content, and asks first.
  ASSERT_OK(store->Delete("iris2", kAllow));
  EXPECT_THAT(store->Delete("flowers", refuse),
              StatusIs(absl::StatusCode::kFailedPrecondition, "in use"));
  absl::StatusOr<DeleteResult> deleted = store->Delete("flowers", kAllow);
  ASSERT_OK(deleted);
  EXPECT_THAT(deleted->remaining_names, IsEmpty());
  EXPECT_THAT(store->Get(reopened->id()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("dataset")));
  EXPECT_EQ(StoredContents(), 1);  // the other content, stored as "iris"
}

TEST_P(DatasetStoreTest, DeletingByIdRemovesEveryName) {
  auto store = Open();
  absl::StatusOr<PutResult> put = store->Put("iris", kIris, At(0));
  ASSERT_OK(put);
  ASSERT_OK(store->Put("iris2", kIris, At(1)));
  absl::StatusOr<DeleteResult> deleted = store->Delete(put->dataset.id(), kAllow);
  ASSERT_OK(deleted);
  EXPECT_THAT(deleted->dataset.names(), ElementsAre("iris", "iris2"));
  EXPECT_THAT(deleted->remaining_names, IsEmpty());
  EXPECT_THAT(store->Get("iris2"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("dataset")));
  EXPECT_EQ(StoredContents(), 0);
  // Both names are free again.
  EXPECT_OK(store->Put("iris2", "a,b\n1,2\n", At(2)));
}

TEST_P(DatasetStoreTest, LoadParsesTheStoredBytes) {
  auto store = Open();
  absl::StatusOr<PutResult> put = store->Put("iris", kIris, At(0));
  ASSERT_OK(put);
  store = Open();
  absl::StatusOr<LoadedDataset> loaded = store->Load("iris");
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->dataset.id(), put->dataset.id());
  EXPECT_EQ(loaded->table.rows, 4);
  ASSERT_EQ(loaded->table.columns.size(), 3u);
  EXPECT_THAT(loaded->table.columns[2].codes, ElementsAre(0, 1, 2, 0));
  EXPECT_THAT(store->Load("wine"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("wine")));
}

// The single box's files.
class DatasetFilesTest : public DatasetStoreTest {
 protected:
  std::set<std::string> Files() const {
    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      files.insert(entry.path().filename().string());
    }
    return files;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, DatasetFilesTest, ::testing::Values(StoreKind::kSqlite),
                         ::descent::server::testing::StoreKindName);

TEST_P(DatasetFilesTest, ADatasetIsItsBytesAndItsMetadata) {
  auto store = Open();
  absl::StatusOr<PutResult> put = store->Put("iris", kIris, At(0));
  ASSERT_OK(put);
  const std::string& id = put->dataset.id();
  EXPECT_EQ(Files(), (std::set<std::string>{id + ".csv", id + ".json"}));
  ASSERT_OK(store->Delete("iris", kAllow));
  EXPECT_THAT(Files(), IsEmpty());
}

TEST_P(DatasetFilesTest, MetadataFromBeforeAliasesKeepsItsName) {
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

TEST_P(DatasetFilesTest, ReopenKeepsWholeDatasetsAndRemovesLeftovers) {
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

TEST_P(DatasetFilesTest, LoadNoticesAChangedOrMissingFile) {
  auto store = Open();
  absl::StatusOr<PutResult> put = store->Put("iris", kIris, At(0));
  ASSERT_OK(put);
  const fs::path file = fs::path(dir_) / (put->dataset.id() + ".csv");
  std::ofstream(file) << "a,b\n1,2\n";
  EXPECT_THAT(store->Load("iris"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(put->dataset.id())));
  fs::remove(file);
  EXPECT_THAT(store->Load("iris"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(put->dataset.id())));
}

// Replicas on one PostgreSQL database: each its own DatasetStore, as each descentd has.
class SharedDatasetsTest : public DatasetStoreTest {};

INSTANTIATE_TEST_SUITE_P(Backends, SharedDatasetsTest, ::testing::Values(StoreKind::kPostgres),
                         ::descent::server::testing::StoreKindName);

TEST_P(SharedDatasetsTest, AReplicaServesWhatAnotherStoredAndNamesStayUnique) {
  auto a = Open();
  auto b = Open();
  absl::StatusOr<PutResult> put = a->Put("iris", kIris, At(0));
  ASSERT_OK(put);
  EXPECT_THAT(Names(b->List()), ElementsAre("iris"));
  absl::StatusOr<LoadedDataset> loaded = b->Load("iris");
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->dataset.id(), put->dataset.id());
  EXPECT_EQ(loaded->table.rows, 4);
  // A name of other content is taken on every replica; the same bytes join the content.
  EXPECT_THAT(b->Put("iris", "a,b\n1,2\n", At(1)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr(put->dataset.id())));
  absl::StatusOr<PutResult> alias = b->Put("flowers", kIris, At(2));
  ASSERT_OK(alias);
  EXPECT_TRUE(alias->already_stored);
  absl::StatusOr<v1::Dataset> seen_by_a = a->Get("flowers");
  ASSERT_OK(seen_by_a);
  EXPECT_THAT(seen_by_a->names(), ElementsAre("iris", "flowers"));
  // A delete on either replica asks, and goes for both.
  EXPECT_THAT(b->Delete(put->dataset.id(),
                        [](const v1::Dataset&) { return absl::FailedPreconditionError("in use"); }),
              StatusIs(absl::StatusCode::kFailedPrecondition, "in use"));
  EXPECT_OK(a->Get("iris"));
  ASSERT_OK(b->Delete(put->dataset.id(), kAllow));
  EXPECT_THAT(a->Get("flowers"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("flowers")));
  EXPECT_THAT(a->Load("iris"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("iris")));
}

TEST_P(SharedDatasetsTest, TheSameUploadOnEveryReplicaAtOnceIsOneDataset) {
  constexpr int kReplicas = 4;
  std::vector<std::unique_ptr<DatasetStore>> replicas;
  for (int i = 0; i < kReplicas; ++i) replicas.push_back(Open());
  std::vector<absl::StatusOr<PutResult>> results(kReplicas, absl::UnknownError("not run"));
  std::vector<std::thread> uploads;
  for (int i = 0; i < kReplicas; ++i) {
    uploads.emplace_back([&, i] {
      // Two names shared by all, and one of each replica's own.
      results[static_cast<size_t>(i)] =
          replicas[static_cast<size_t>(i)]->Put(i % 2 == 0 ? "even" : "odd", kIris, At(i));
    });
  }
  for (std::thread& upload : uploads) upload.join();
  int first_uploads = 0;
  for (const absl::StatusOr<PutResult>& result : results) {
    ASSERT_OK(result);
    EXPECT_EQ(result->dataset.id(), DatasetIdFor(kIris));
    first_uploads += result->already_stored ? 0 : 1;
  }
  EXPECT_EQ(first_uploads, 1);
  EXPECT_EQ(StoredContents(), 1);
  absl::StatusOr<v1::Dataset> stored = replicas[0]->Get("odd");
  ASSERT_OK(stored);
  EXPECT_THAT(stored->names(), UnorderedElementsAre("even", "odd"));
}

TEST_P(SharedDatasetsTest, AReplicaReadsADatasetsBytesOnce) {
  auto a = Open();
  absl::StatusOr<PutResult> put = a->Put("iris", kIris, At(0));
  ASSERT_OK(put);
  auto b = Open();
  ASSERT_OK(b->Load("iris"));
  // Damaged in the database after B loaded it: B's next jobs train on the table it parsed
  // then; a replica reading the bytes now finds they no longer hash to the id.
  ASSERT_TRUE(database_->Execute(
      absl::StrCat("UPDATE datasets SET bytes = ", database_->BytesLiteral("612c620a312c320a"),
                   " WHERE id = '", put->dataset.id(), "'")));  // "a,b\n1,2\n"
  absl::StatusOr<LoadedDataset> cached = b->Load("iris");
  ASSERT_OK(cached);
  EXPECT_EQ(cached->table.rows, 4);
  EXPECT_THAT(Open()->Load("iris"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(put->dataset.id())));
  // The cache holds content, not names: a deleted dataset is gone for B too.
  ASSERT_OK(a->Delete("iris", kAllow));
  EXPECT_THAT(b->Load("iris"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("iris")));
}

}  // namespace
}  // namespace descent::server
