// Counts heap allocations made through operator new on the calling thread, to test that hot
// loops are allocation-free:
//   const int64_t before = AllocationsOnThisThread();
//   ... steps ...
//   EXPECT_EQ(AllocationsOnThisThread(), before);
// Linking descent_testing replaces the global operator new (it forwards to malloc and counts);
// other threads' allocations are not counted, so background threads cannot disturb a test.
#ifndef DESCENT_TESTS_TESTING_ALLOCATION_COUNTER_H_
#define DESCENT_TESTS_TESTING_ALLOCATION_COUNTER_H_

#include <cstdint>

namespace descent::testing {

// Calls of operator new (any form but the aligned ones) on this thread since it started.
int64_t AllocationsOnThisThread();

}  // namespace descent::testing

#endif  // DESCENT_TESTS_TESTING_ALLOCATION_COUNTER_H_
