// Transparent huge pages for the engine's large buffers (weights, gradients, optimizer state,
// activations of big batches). Two reasons, both measured on the large benchmark network:
// a fresh 4 KiB page costs a page fault on first touch (about 13 us each on the virtual
// machines here: zero-filling a new 32 MiB buffer took ~107 ms, ~10 ms on 2 MiB pages), which
// made a short job's set-up and first step as slow as several steps; and OpenBLAS's packing
// reads the weights across rows, one TLB entry per 4 KiB page.
//
// Linux backs a region with huge pages only where the process asked (madvise) when
// /sys/kernel/mm/transparent_hugepage/enabled is "madvise", the common default. The advice
// must come before the first touch: a page already faulted in stays small.
#ifndef DESCENT_ENGINE_HUGE_PAGES_H_
#define DESCENT_ENGINE_HUGE_PAGES_H_

#include <cstddef>
#include <vector>

namespace descent::internal {

// Buffers from this size up are advised: smaller ones cannot hold an aligned 2 MiB page.
inline constexpr size_t kHugePageAdviceBytes = size_t{2} << 20;

// Asks the kernel to back the whole 2 MiB-aligned extents inside [data, data + bytes) with
// huge pages. Advice only: nothing happens below kHugePageAdviceBytes, and a kernel without
// transparent huge pages (or with them disabled) refuses it silently; the memory is the same.
void AdviseHugePages(const void* data, size_t bytes);

// An empty vector whose capacity for `count` floats was advised before any of it was touched;
// fill it with assign/resize/insert up to that capacity.
std::vector<float> AdvisedVector(size_t count);

// `count` copies of `value`, on advised pages.
std::vector<float> AdvisedVector(size_t count, float value);

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_HUGE_PAGES_H_
