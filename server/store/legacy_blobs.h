// Store version 1's blobs, read for the migration to version 2 (store_migration.h): before
// the store had its own schema, a checkpoint and a model were a hand-rolled little-endian
// format behind a magic ("DCCK", "DCML") and a format version (1). These decoders turn such
// bytes into the store's messages with every float bit kept; nothing writes that format.
#ifndef DESCENT_SERVER_STORE_LEGACY_BLOBS_H_
#define DESCENT_SERVER_STORE_LEGACY_BLOBS_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "descent/store/v1/store.pb.h"

namespace descent::server {

// DATA_LOSS when `bytes` is not a complete version-1 checkpoint.
absl::StatusOr<store::v1::Checkpoint> DecodeVersion1Checkpoint(std::string_view bytes);
// DATA_LOSS when `bytes` is not a complete version-1 model, or names an activation or loss
// version 1 did not have.
absl::StatusOr<store::v1::Model> DecodeVersion1Model(std::string_view bytes);

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_LEGACY_BLOBS_H_
