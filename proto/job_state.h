// Facts about the wire's JobState that server and client both rely on, stated once. Beside
// the proto rather than in base/, which sits under the engine and never sees protobuf.
#ifndef DESCENT_PROTO_JOB_STATE_H_
#define DESCENT_PROTO_JOB_STATE_H_

#include "descent/v1/training.pb.h"

namespace descent::v1 {

// SUCCEEDED, FAILED and CANCELLED: the job will never change again (no more steps, no other
// state). In v1's namespace so that callers on either side find it from the argument's type.
inline bool IsTerminal(JobState state) {
  return state == SUCCEEDED || state == FAILED || state == CANCELLED;
}

}  // namespace descent::v1

#endif  // DESCENT_PROTO_JOB_STATE_H_
