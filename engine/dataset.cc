#include "engine/dataset.h"

#include <cmath>
#include <cstddef>
#include <string_view>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/field_error.h"

namespace descent {
namespace {

// Field paths are the InlineDataset ones: builtin generators never produce invalid data, so
// only data a user sent can fail here.
constexpr char kFeaturesPath[] = "dataset.inline.features";
constexpr char kTargetsPath[] = "dataset.inline.targets";

absl::Status CheckFinite(const Matrix& matrix, const char* path) {
  const absl::Span<const float> values = matrix.span();
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) continue;
    const int cols = matrix.cols();
    return InvalidFieldError(
        absl::StrCat(path, ".values[", i, "]"),
        absl::StrCat(" is ", std::isnan(values[i]) ? "NaN" : "infinite", " (row ", i / cols,
                     ", column ", i % cols, "); remove or impute that value"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDataset(const Dataset& dataset) {
  const Matrix& x = dataset.features;
  const Matrix& y = dataset.targets;
  if (x.rows() == 0 || x.cols() == 0) {
    return InvalidFieldError(kFeaturesPath, absl::StrCat(" is empty (", x.rows(), " x ", x.cols(),
                                                         "); send at least one row"));
  }
  if (y.rows() == 0 || y.cols() == 0) {
    return InvalidFieldError(kTargetsPath, absl::StrCat(" is empty (", y.rows(), " x ", y.cols(),
                                                        "); send one target row per sample"));
  }
  if (x.rows() != y.rows()) {
    return InvalidFieldError(
        kTargetsPath, absl::StrCat(" has ", y.rows(), " rows but ", kFeaturesPath, " has ",
                                   x.rows(), "; send exactly one target row per feature row"));
  }
  if (dataset.num_classes < 0 || dataset.num_classes == 1) {
    return InvalidFieldError(
        "dataset.inline.num_classes",
        absl::StrCat(" must be 0 (regression) or >= 2 (got ", dataset.num_classes, ")"));
  }
  if (!dataset.feature_names.empty() &&
      dataset.feature_names.size() != static_cast<size_t>(x.cols())) {
    return InvalidFieldError(
        "dataset.inline.feature_names",
        absl::StrCat(" has ", dataset.feature_names.size(), " names but the features have ",
                     x.cols(), " columns; send one name per column or none"));
  }
  // Predict matches columns by these names, so each must say which column it is.
  std::unordered_map<std::string_view, size_t> first_index;
  for (size_t i = 0; i < dataset.feature_names.size(); ++i) {
    auto [at, inserted] = first_index.emplace(dataset.feature_names[i], i);
    if (!inserted) {
      return InvalidFieldError(
          absl::StrCat("dataset.inline.feature_names[", i, "]"),
          absl::StrCat(" \"", dataset.feature_names[i], "\" repeats feature_names[", at->second,
                       "]; give every column its own name"));
    }
  }
  if (!dataset.class_names.empty() &&
      dataset.class_names.size() != static_cast<size_t>(dataset.num_classes)) {
    return InvalidFieldError(
        "dataset.inline.class_names",
        absl::StrCat(" has ", dataset.class_names.size(), " names but num_classes is ",
                     dataset.num_classes, "; send one name per class or none"));
  }
  RETURN_IF_ERROR(CheckFinite(x, kFeaturesPath));
  RETURN_IF_ERROR(CheckFinite(y, kTargetsPath));
  return absl::OkStatus();
}

}  // namespace descent
