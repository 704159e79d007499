#include "server/conversion/dataset_resolution.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"
#include "engine/loss.h"
#include "server/conversion/builtin_dataset_cache.h"
#include "server/conversion/engine_to_proto.h"
#include "server/conversion/spec_errors.h"
#include "server/datasets/dataset_store.h"
#include "server/datasets/table_dataset.h"

namespace descent::server {
namespace {

using ::absl::InvalidArgumentError;
using ::absl::StrCat;

absl::string_view LossName(v1::Loss loss) { return v1::Loss_Name(loss); }

// The engine checks the generator options (ranges differ per generator); only `noise`
// needs a check here, because BuiltinOptions spells "unset" as a negative noise.
absl::StatusOr<Dataset> MakeBuiltin(const v1::BuiltinDataset& builtin) {
  constexpr absl::string_view kPath = "spec.dataset.builtin";
  BuiltinOptions options;
  if (builtin.has_samples()) options.samples = builtin.samples();
  options.seed = builtin.seed();
  options.classes = builtin.classes();
  options.features = builtin.features();
  if (builtin.has_noise()) {
    if (!(builtin.noise() >= 0)) {
      return InvalidArgumentError(StrCat(kPath, ".noise must be >= 0 (got ", builtin.noise(),
                                         "); leave it unset for the "
                                         "generator's default"));
    }
    options.noise = builtin.noise();
  }
  absl::StatusOr<Dataset> dataset = BuiltinDatasetCache::Shared().Get(builtin.name(), options);
  if (!dataset.ok()) return AsSpecError(dataset.status(), kPath);
  return dataset;
}

// The features and targets of an inline dataset, shaped but not yet checked against the
// loss (FinishInline does that once the output count is known).
absl::StatusOr<Dataset> StartInline(const v1::InlineDataset& data, v1::Loss loss) {
  constexpr absl::string_view kPath = "spec.dataset.inline";
  if (!data.has_features()) {
    return InvalidArgumentError(
        StrCat(kPath, ".features must be set: a [samples, features] matrix"));
  }
  if (!data.has_targets()) {
    return InvalidArgumentError(
        StrCat(kPath,
               ".targets must be set: a [samples, outputs] matrix (class indices or "
               "probability rows for CATEGORICAL_CROSS_ENTROPY)"));
  }
  if (loss != v1::CATEGORICAL_CROSS_ENTROPY && data.num_classes() != 0) {
    return InvalidArgumentError(StrCat(kPath, ".num_classes applies to CATEGORICAL_CROSS_ENTROPY ",
                                       "only (loss is ", LossName(loss), "); remove it"));
  }
  if (loss == v1::MEAN_SQUARED_ERROR && data.class_names_size() > 0) {
    return InvalidArgumentError(
        StrCat(kPath,
               ".class_names applies to classification losses only (loss is MEAN_SQUARED_ERROR); "
               "remove it"));
  }
  Dataset dataset;
  ASSIGN_OR_RETURN(dataset.features, ToMatrix(data.features(), StrCat(kPath, ".features")));
  ASSIGN_OR_RETURN(dataset.targets, ToMatrix(data.targets(), StrCat(kPath, ".targets")));
  dataset.num_classes = data.num_classes();
  dataset.feature_names.assign(data.feature_names().begin(), data.feature_names().end());
  dataset.class_names.assign(data.class_names().begin(), data.class_names().end());
  return dataset;
}

// The class count follows from the loss: the network's outputs for cross-entropy, two for
// binary labels, none for regression. Then the engine checks the whole dataset.
absl::Status FinishInline(Dataset& dataset, v1::Loss loss, int outputs) {
  switch (loss) {
    case v1::CATEGORICAL_CROSS_ENTROPY:
      dataset.num_classes = outputs;
      break;
    case v1::BINARY_CROSS_ENTROPY:
      dataset.num_classes = 2;
      break;
    default:
      dataset.num_classes = 0;
      break;
  }
  return AsSpecError(ValidateDataset(dataset), "spec.dataset.inline");
}

// An uploaded table, by id or name, as training data for this spec.
absl::StatusOr<Dataset> TableDataset(const v1::JobSpec& spec, const DatasetStore* datasets,
                                     std::string* id) {
  const bool by_id = spec.dataset().has_id();
  const std::string field = by_id ? "spec.dataset.id" : "spec.dataset.name";
  const std::string& reference = by_id ? spec.dataset().id() : spec.dataset().name();
  if (reference.empty()) {
    return InvalidArgumentError(StrCat(field, " must be set: an uploaded dataset's ",
                                       by_id ? "id" : "name", " (`descent datasets` lists them)"));
  }
  if (datasets == nullptr) {
    return absl::FailedPreconditionError(
        StrCat(field, ": this server stores no uploaded datasets; use builtin or inline data"));
  }
  absl::StatusOr<LoadedDataset> loaded = datasets->Load(reference);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(), StrCat(field, ": ", loaded.status().message()));
  }
  *id = loaded->dataset.id();
  return TableToDataset(loaded->table, spec.dataset(), spec.loss());
}

absl::StatusOr<Dataset> StartDataset(const v1::JobSpec& spec, const DatasetStore* datasets,
                                     std::string* id) {
  const v1::DatasetSource& source = spec.dataset();
  if (!source.has_id() && !source.has_name()) {
    if (!source.targets().empty() || !source.features().empty()) {
      return InvalidArgumentError(
          StrCat("spec.dataset.", source.targets().empty() ? "features" : "targets",
                 " applies to uploaded datasets (dataset.id or dataset.name) only; remove it"));
    }
  }
  switch (spec.dataset().source_case()) {
    case v1::DatasetSource::kId:
    case v1::DatasetSource::kName:
      return TableDataset(spec, datasets, id);
    case v1::DatasetSource::kBuiltin: {
      ASSIGN_OR_RETURN(Dataset dataset, MakeBuiltin(spec.dataset().builtin()));
      if (spec.loss() == v1::MEAN_SQUARED_ERROR) {
        // Regression on class labels is allowed (it is what MSE on 0/1 targets does), but
        // the result is numbers, not classes.
        dataset.num_classes = 0;
        dataset.class_names.clear();
      }
      return dataset;
    }
    case v1::DatasetSource::kInline:
      return StartInline(spec.dataset().inline_(), spec.loss());
    case v1::DatasetSource::SOURCE_NOT_SET:
      break;
  }
  return InvalidArgumentError("spec.dataset: set one of builtin, inline, id, name");
}

// The network's output units for this loss and data.
absl::StatusOr<int> ModelOutputs(const v1::JobSpec& spec, const LossSpec& loss,
                                 const Dataset& dataset) {
  absl::StatusOr<int> outputs = OutputUnits(loss, dataset.targets, dataset.num_classes);
  if (outputs.ok() || !spec.dataset().has_builtin()) {
    return outputs.ok() ? outputs : AsSpecError(outputs.status(), "spec.dataset.inline.targets");
  }
  // Builtin data cannot be wrong, so the loss is: say which one fits.
  return InvalidArgumentError(
      StrCat("spec.loss ", LossName(spec.loss()), " does not fit builtin dataset ",
             spec.dataset().builtin().name(), " (", outputs.status().message(),
             "); use MEAN_SQUARED_ERROR for regression data, BINARY_CROSS_ENTROPY for two classes, "
             "CATEGORICAL_CROSS_ENTROPY for two or more"));
}

}  // namespace

absl::StatusOr<ResolvedData> ResolveDataset(const v1::JobSpec& spec, const LossSpec& loss,
                                            const DatasetStore* datasets) {
  ResolvedData resolved;
  ASSIGN_OR_RETURN(resolved.dataset, StartDataset(spec, datasets, &resolved.id));
  ASSIGN_OR_RETURN(resolved.outputs, ModelOutputs(spec, loss, resolved.dataset));
  if (spec.dataset().has_inline_()) {
    RETURN_IF_ERROR(FinishInline(resolved.dataset, spec.loss(), resolved.outputs));
  }
  return resolved;
}

}  // namespace descent::server
