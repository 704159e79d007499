// The update of plain gradient descent, values[i] ← values[i] + neg_lr · grad[i] (torch.optim.SGD
// without momentum or weight decay: p.add_(grad, alpha=-lr)). One definition, shared by the SGD
// optimizer and Network::BackwardAndDescend, so that both give the same bits.
#ifndef DESCENT_ENGINE_DESCEND_H_
#define DESCENT_ENGINE_DESCEND_H_

#include "absl/types/span.h"

namespace descent::internal {

// grad and values must have the same length (CHECK).
void Descend(float neg_lr, absl::Span<const float> grad, absl::Span<float> values);

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_DESCEND_H_
