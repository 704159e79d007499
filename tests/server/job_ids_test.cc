#include "server/jobs/job_ids.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace descent::server {
namespace {

TEST(JobIdsTest, ShortUrlSafeAndWellFormed) {
  absl::BitGen random;
  const std::string id = NewJobId(random);
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.substr(0, 4), "job-");
  EXPECT_EQ(id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-"), std::string::npos) << id;
  EXPECT_TRUE(IsWellFormedJobId(id)) << id;
}

TEST(JobIdsTest, DrawsFromARandomSource) {
  absl::BitGen random;
  absl::flat_hash_set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewJobId(random));
  // 48 random bits: a clash among 10,000 ids has a probability of about 2e-7.
  EXPECT_EQ(ids.size(), 10000u);
}

TEST(JobIdsTest, RecognisesOnlyItsOwnShape) {
  EXPECT_TRUE(IsWellFormedJobId("job-0123456789ab"));
  EXPECT_FALSE(IsWellFormedJobId(""));
  EXPECT_FALSE(IsWellFormedJobId("job-0123456789a"));    // too short
  EXPECT_FALSE(IsWellFormedJobId("job-0123456789abc"));  // too long
  EXPECT_FALSE(IsWellFormedJobId("job-0123456789AB"));   // upper case
  EXPECT_FALSE(IsWellFormedJobId("job-0123456789ag"));   // not hex
  EXPECT_FALSE(IsWellFormedJobId("jab-0123456789ab"));
}

}  // namespace
}  // namespace descent::server
