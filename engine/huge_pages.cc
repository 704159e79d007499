#include "engine/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

namespace descent::internal {

void AdviseHugePages(const void* data, size_t bytes) {
  if (data == nullptr || bytes < kHugePageAdviceBytes) return;
  constexpr uintptr_t kPage = 4096;
  // madvise takes whole pages; the kernel then uses huge pages for the aligned 2 MiB extents.
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kPage - 1) & ~(kPage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kPage - 1);
  if (end <= begin) return;
  // EINVAL without transparent huge pages: the advice is optional, the memory is not.
  (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

std::vector<float> AdvisedVector(size_t count) {
  std::vector<float> values;
  values.reserve(count);
  AdviseHugePages(values.data(), count * sizeof(float));
  return values;
}

std::vector<float> AdvisedVector(size_t count, float value) {
  std::vector<float> values = AdvisedVector(count);
  values.assign(count, value);
  return values;
}

}  // namespace descent::internal
