// The CLI's dataset commands (`descent upload`, `descent datasets`, `descent dataset rm`).
// Exit codes as in commands.h.
#ifndef DESCENT_CLIENT_DATASET_COMMANDS_H_
#define DESCENT_CLIENT_DATASET_COMMANDS_H_

#include <string>

#include "client/commands.h"
#include "client/dataset_client.h"

namespace descent::client {

// The name `descent upload FILE` gives a dataset without --name: the file's stem with
// characters a name may not hold replaced by '_' ("house prices.csv" -> "house_prices").
std::string DefaultDatasetName(const std::string& path);

int RunUpload(const CommandContext& ctx, DatasetClient& datasets, const std::string& path,
              const std::string& name);
int RunDatasets(const CommandContext& ctx, DatasetClient& datasets);
int RunDatasetRemove(const CommandContext& ctx, DatasetClient& datasets,
                     const std::string& id_or_name);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_DATASET_COMMANDS_H_
