// Run-time CPU feature checks for the engine's hand-vectorised kernels. The kernels are
// compiled with DESCENT_TARGET_AVX512 (a per-function target attribute) rather than a global
// -march flag, so one binary runs everywhere and takes the fast path only where it exists.
#ifndef DESCENT_ENGINE_CPU_FEATURES_H_
#define DESCENT_ENGINE_CPU_FEATURES_H_

#include <atomic>

#define DESCENT_TARGET_AVX512 __attribute__((target("avx512f,fma")))

namespace descent::internal {

// True when the CPU and the OS support AVX-512F (zmm registers). Checked once.
inline bool CpuHasAvx512() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
}

// Tests set it to false to run RunVectorized's bodies on their baseline build and compare bits.
inline std::atomic<bool> avx512_bodies_allowed{true};

// The same body, with its loops vectorised for AVX-512 (16 floats per instruction instead of
// SSE's 4): `flatten` inlines the body and everything it calls into this function, whose
// target attribute lets GCC's vectoriser use zmm registers.
template <typename Body>
__attribute__((target("avx512f"), flatten)) void RunBodyForAvx512(const Body& body) {
  body();
}

// Runs body() built for AVX-512 where the CPU has it, else as built for the baseline. For the
// element-wise loops of the optimizers, which the compiler vectorises itself: both builds do
// the same IEEE operations per element (+, *, /, sqrt, max are exact whatever the vector
// width), so they give the same bits. That holds only while no multiply and add is contracted
// into a fused multiply-add, which AVX-512 has: files that call this are built with
// -ffp-contract=off (engine/CMakeLists.txt).
template <typename Body>
void RunVectorized(const Body& body) {
  if (CpuHasAvx512() && avx512_bodies_allowed.load(std::memory_order_relaxed)) {
    RunBodyForAvx512(body);
  } else {
    body();
  }
}

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_CPU_FEATURES_H_
