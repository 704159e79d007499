// What both job store implementations store the same way: a chunk of losses as
// little-endian doubles, an event as its WatchJobResponse, a job's end time as unix
// nanoseconds. A page of history is stitched from chunks by AppendLossChunk.
#ifndef DESCENT_SERVER_STORE_STORED_ROWS_H_
#define DESCENT_SERVER_STORE_STORED_ROWS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "descent/v1/training.pb.h"

namespace descent::server {

// The bytes of a chunk of `count` losses.
std::string_view LossChunkBytes(const double* losses, size_t count);

// Appends the losses of the stored chunk starting at `first_step` from step *next_step on,
// and moves *next_step past them; a chunk that ends before *next_step adds nothing. False for
// a malformed chunk (not whole doubles) or one that starts after *next_step (a gap).
bool AppendLossChunk(int64_t first_step, std::string_view bytes, int64_t* next_step,
                     std::vector<double>* losses);

// Parses a stored event; false unless it is a state change, an epoch summary or a resumption.
bool ParseStoredEvent(std::string_view bytes, v1::WatchJobResponse* message);

// The end_time column of a job row: unix nanoseconds, nullopt until the job ended.
std::optional<int64_t> EndTimeColumn(const v1::Job& job);

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_STORED_ROWS_H_
