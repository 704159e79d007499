// ListJobs' page tokens. A token names the state filter it was issued for and the position
// to resume from: jobs with a submission sequence below `bound` are still to be listed. It is
// opaque to clients (web-safe base64) and versioned, so its form can change.
#ifndef DESCENT_SERVER_JOBS_LIST_PAGE_TOKEN_H_
#define DESCENT_SERVER_JOBS_LIST_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "descent/v1/training.pb.h"

namespace descent::server {

std::string EncodeListPageToken(v1::JobState state, int64_t bound);

// The bound of a token EncodeListPageToken(state, bound) made, for a server holding `jobs`
// sequences. INVALID_ARGUMENT when `token` is not such a token (or its bound is outside
// (0, jobs]), or was issued for another state filter; both messages say what to do.
absl::StatusOr<int64_t> DecodeListPageToken(std::string_view token, v1::JobState state,
                                            int64_t jobs);

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_LIST_PAGE_TOKEN_H_
