// Run-time CPU feature checks for the engine's hand-vectorised kernels. The kernels are
// compiled with DESCENT_TARGET_AVX512 (a per-function target attribute) rather than a global
// -march flag, so one binary runs everywhere and takes the fast path only where it exists.
#ifndef DESCENT_ENGINE_CPU_FEATURES_H_
#define DESCENT_ENGINE_CPU_FEATURES_H_

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

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_CPU_FEATURES_H_
