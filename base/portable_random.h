// Random numbers that are identical on every platform and standard library. descent never
// uses std:: distributions: their algorithms are implementation-defined, so the same seed could
// give different datasets, shuffles or initial weights under libstdc++ and libc++.
// std::mt19937_64 itself is fully specified by the standard; everything on top of it is
// written out here, once: a change to any line below changes every training trajectory (the
// engine's golden PyTorch and reference tests pin them).
#ifndef DESCENT_BASE_PORTABLE_RANDOM_H_
#define DESCENT_BASE_PORTABLE_RANDOM_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <utility>

namespace descent::base {

// SplitMix64's finaliser: a bijective mix that turns nearby seeds (0, 1, 2...) into unrelated
// generator states.
inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A seed for one purpose (`stream`, e.g. "the epoch permutation") and one index (e.g. the
// epoch), so different uses of the user's seed never share a sequence.
inline uint64_t DeriveSeed(uint64_t seed, uint64_t stream, uint64_t index) {
  return SplitMix64(SplitMix64(seed ^ SplitMix64(stream)) + index);
}

class PortableRandom {
 public:
  explicit PortableRandom(uint64_t seed) : engine_(seed) {}

  uint64_t NextBits() { return engine_(); }

  // Uniform in [0, 1) with 53 random bits (the top ones).
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Uniform in [low, high).
  double Uniform(double low, double high) { return low + (high - low) * Uniform(); }

  // Uniform integer in [0, n), n >= 1, without modulo bias (rejection sampling).
  uint64_t UniformIndex(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // largest multiple of n, exclusive
    uint64_t bits;
    do {
      bits = engine_();
    } while (bits >= limit);
    return bits % n;
  }

  bool Bernoulli(double p) { return Uniform() < p; }

  // Two independent standard normals by the Marsaglia polar method (needs only log and sqrt):
  // draws uniform pairs in the unit disc until one is accepted.
  std::pair<double, double> NormalPair() {
    double u, v, s;
    do {
      u = 2.0 * Uniform() - 1.0;
      v = 2.0 * Uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double factor = std::sqrt(-2.0 * std::log(s) / s);
    return {u * factor, v * factor};
  }

  // One standard normal: a fresh pair, the second value discarded, so the sequence never
  // depends on how many normals were requested before.
  double Normal() { return NormalPair().first; }

  double Normal(double mean, double stddev) { return mean + stddev * Normal(); }

  // Fisher-Yates shuffle of [first, first + n).
  template <typename T>
  void Shuffle(T* first, int64_t n) {
    for (int64_t i = n - 1; i > 0; --i) {
      const int64_t j = static_cast<int64_t>(UniformIndex(static_cast<uint64_t>(i) + 1));
      std::swap(first[i], first[j]);
    }
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace descent::base

#endif  // DESCENT_BASE_PORTABLE_RANDOM_H_
