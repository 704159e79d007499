// The CLI's dataset commands (`descent upload`, `descent datasets`, `descent dataset rm`) and
// `descent predict` on a CSV table. Exit codes as in commands.h.
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

// Predicts for the rows of a CSV file and prints the file back with the predictions
// appended (in -o json, the PredictResponse). With a header that holds the model's feature
// names (a job on an uploaded dataset), those columns are used whatever their order and the
// other columns (the target, ids) are kept for the reader; otherwise every column is a
// feature, in order. A first line that is not all numbers is a header.
int RunPredictCsv(const CommandContext& ctx, const std::string& job_id,
                  const std::string& input_file);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_DATASET_COMMANDS_H_
