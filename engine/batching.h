// How the trainer orders and slices data: the train/validation split, each epoch's sample
// order and the gathering of a batch's rows. Orders are pure functions of (seed, epoch), which
// is what lets a checkpointed run resume mid-epoch on exactly the same batches.
#ifndef DESCENT_ENGINE_BATCHING_H_
#define DESCENT_ENGINE_BATCHING_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "engine/matrix.h"

namespace descent {

// A permutation of [0, samples) seeded by `seed` alone; the trainer uses its head for
// training and its tail for validation.
std::vector<int> SplitPermutation(uint64_t seed, int samples);

// How many of `samples` rows the split holds out for validation: Keras' split point,
// samples - floor(samples * (1 - fraction)), at least 1 when the fraction is > 0, 0 when it
// is 0. May be all of them; the caller decides whether that leaves enough to train on.
int ValidationRows(int samples, double validation_fraction);

// Optimizer steps in one epoch over `train_rows` rows: batches of `batch_size` (0 = one
// batch of all the rows; larger than the rows = all of them), the last one possibly short.
// 0 when there are no rows.
int64_t StepsPerEpoch(int train_rows, int batch_size);

// Writes epoch `epoch`'s (1-based) sample order into `order`: 0, 1, 2, ... without
// shuffling, else a permutation that depends only on (seed, epoch). Allocation-free.
void EpochOrder(uint64_t seed, int epoch, bool shuffle, absl::Span<int> order);

// dst = the rows of src listed in `rows`, in that order. Resizes dst, which does not
// allocate while rows.size() fits the capacity dst already has.
void GatherRows(const Matrix& src, absl::Span<const int> rows, Matrix* dst);

}  // namespace descent

#endif  // DESCENT_ENGINE_BATCHING_H_
