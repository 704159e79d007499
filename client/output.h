// Human and machine renderings of the API's messages for the CLI. Human output is aligned
// plain text; machine output (`-o json`) is protobuf's JSON mapping, so it reads back with
// any protobuf library and matches the job file's field names.
#ifndef DESCENT_CLIENT_OUTPUT_H_
#define DESCENT_CLIENT_OUTPUT_H_

#include <string>
#include <vector>

#include "descent/v1/training.pb.h"
#include "google/protobuf/message.h"

namespace descent::client {

enum class OutputFormat { kText, kJson };

// `message` as one line of JSON (for JSON-lines streams) or indented (for files).
std::string ToJson(const google::protobuf::Message& message, bool pretty = false);

// "SUCCEEDED", "QUEUED", ...
std::string StateName(v1::JobState state);
std::string VerdictName(v1::Verdict verdict);

// "loss 0.1234  accuracy 0.9500" — only the metrics that are set.
std::string FormatMetrics(const v1::Metrics& metrics);

// One row per job: ID NAME STATE STEP EPOCH_LOSS VAL_LOSS VERDICT CREATED, where EPOCH_LOSS is
// the last finished epoch's mean training loss and VAL_LOSS its validation loss.
std::string FormatJobTable(const std::vector<v1::Job>& jobs);

// "key: value" lines with everything the Job carries that a person reads. Losses say which
// they are: the last step's minibatch loss, the last epoch's mean, validation.
std::string FormatJobDetails(const v1::Job& job);

// One line per finished epoch, e.g.
// "epoch 3/30  step 150/1500  train loss 0.1234 mae 0.2  validation loss 0.1300 ...".
std::string FormatEpochLine(const v1::EpochSummary& summary, int total_epochs, int64_t total_steps);

// The end of a watch: final state, steps, the last epoch's train (epoch mean) and validation
// metrics, the error of a failed job, and the diagnosis. Ends with '\n'.
std::string FormatOutcome(const v1::Job& job);

// The diagnosis as "diagnosis: CONVERGED - <message>" (the message names the step), or
// "diagnosis: CONVERGED at step 1200" without a message; "" when unset.
std::string FormatDiagnosis(const v1::Diagnosis& diagnosis);

// One row per input row: the outputs, and for classifiers the class (and its name).
std::string FormatPredictions(const v1::PredictResponse& response);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_OUTPUT_H_
