#include "engine/batching.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "base/portable_random.h"
#include "base/status_macros.h"

namespace descent {
namespace {

using base::DeriveSeed;
using base::PortableRandom;

// Stream tags keep the split and the epoch orders on unrelated sequences of the same seed.
constexpr uint64_t kSplitStream = 0x73706c6974;  // "split"
constexpr uint64_t kEpochStream = 0x65706f6368;  // "epoch"

}  // namespace

std::vector<int> SplitPermutation(uint64_t seed, int samples) {
  std::vector<int> order(samples);
  std::iota(order.begin(), order.end(), 0);
  PortableRandom rng(DeriveSeed(seed, kSplitStream, 0));
  rng.Shuffle(order.data(), samples);
  return order;
}

int ValidationRows(int samples, double validation_fraction) {
  if (validation_fraction <= 0) return 0;
  // A little slack so that a product like 10 * (1 - 0.8) = 1.9999999999999996 still gives 2.
  const int split_at = static_cast<int>(std::floor(samples * (1.0 - validation_fraction) + 1e-9));
  return std::max(1, samples - split_at);
}

int64_t StepsPerEpoch(int train_rows, int batch_size) {
  if (train_rows <= 0) return 0;
  const int batch = batch_size <= 0 ? train_rows : std::min(batch_size, train_rows);
  return (static_cast<int64_t>(train_rows) + batch - 1) / batch;
}

void EpochOrder(uint64_t seed, int epoch, bool shuffle, absl::Span<int> order) {
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle) return;
  PortableRandom rng(DeriveSeed(seed, kEpochStream, static_cast<uint64_t>(epoch)));
  rng.Shuffle(order.data(), static_cast<int64_t>(order.size()));
}

void GatherRows(const Matrix& src, absl::Span<const int> rows, Matrix* dst) {
  const int cols = src.cols();
  dst->Resize(static_cast<int>(rows.size()), cols);
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(cols);
  for (size_t i = 0; i < rows.size(); ++i) {
    DESCENT_CHECK(rows[i] >= 0 && rows[i] < src.rows());
    std::memcpy(dst->row(static_cast<int>(i)), src.row(rows[i]), row_bytes);
  }
}

}  // namespace descent
