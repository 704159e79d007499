#include "tests/testing/allocation_counter.h"

#include <cstdlib>
#include <new>

namespace {
// Plain thread_local integer: constant-initialised, so reading it never allocates.
thread_local int64_t allocations = 0;

void* CountedAllocate(std::size_t size) {
  ++allocations;
  if (size == 0) size = 1;
  return std::malloc(size);
}
}  // namespace

namespace descent::testing {
int64_t AllocationsOnThisThread() { return allocations; }
}  // namespace descent::testing

// The replaceable allocation functions, new and delete both, so that sanitizers see matching
// malloc/free pairs.
void* operator new(std::size_t size) {
  void* p = CountedAllocate(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](std::size_t size) {
  void* p = CountedAllocate(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return CountedAllocate(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return CountedAllocate(size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
