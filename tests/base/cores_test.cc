#include "base/cores.h"

#include <sched.h>

#include <thread>

#include "gtest/gtest.h"

namespace descent::base {
namespace {

TEST(AvailableCoresTest, CountsTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_EQ(AvailableCores(), CPU_COUNT(&set));
}

TEST(AvailableCoresTest, FollowsANarrowedMask) {
  cpu_set_t original;
  CPU_ZERO(&original);
  ASSERT_EQ(sched_getaffinity(0, sizeof(original), &original), 0);
  int first = 0;
  while (!CPU_ISSET(first, &original)) ++first;
  // On a thread of its own, so the test process keeps its mask.
  bool narrowed_ok = false;
  int seen = 0;
  std::thread narrowed([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    narrowed_ok = sched_setaffinity(0, sizeof(one), &one) == 0;
    if (narrowed_ok) seen = AvailableCores();
  });
  narrowed.join();
  if (!narrowed_ok) GTEST_SKIP() << "this sandbox does not let a thread narrow its affinity";
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace descent::base
