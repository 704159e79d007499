// The four benchmark networks of PERFORMANCE.md, shared by engine_bench (whole training steps)
// and gemm_shapes (their matrix products one by one). Must match CONFIGS in pytorch_peer.py.
#ifndef DESCENT_BENCH_BENCH_CONFIGS_H_
#define DESCENT_BENCH_BENCH_CONFIGS_H_

#include <string>
#include <vector>

#include "engine/loss.h"
#include "engine/optimizer.h"

namespace descent::bench {

struct Config {
  std::string name;
  std::vector<int> sizes;  // inputs, hidden..., outputs
  int batch;
  LossKind loss;
  OptimizerKind optimizer;
};

inline const std::vector<Config>& Configs() {
  static const std::vector<Config> configs = {
      {"tiny", {13, 64, 1}, 32, LossKind::kMeanSquaredError, OptimizerKind::kAdam},
      {"small", {64, 128, 128, 10}, 64, LossKind::kCategoricalCrossEntropy, OptimizerKind::kAdam},
      {"medium", {784, 256, 256, 10}, 128, LossKind::kCategoricalCrossEntropy,
       OptimizerKind::kAdam},
      {"large", {1024, 2048, 2048, 1024}, 256, LossKind::kMeanSquaredError, OptimizerKind::kSgd},
  };
  return configs;
}

}  // namespace descent::bench

#endif  // DESCENT_BENCH_BENCH_CONFIGS_H_
