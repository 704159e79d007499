#include "server/conversion/predict_columns.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace descent::server {
namespace {

using ::absl::StrCat;

// Enough names to recognise the list without flooding a terminal with a wide model's.
constexpr size_t kMaxNamesShown = 40;

std::string QuotedList(const std::vector<std::string>& names) {
  std::vector<std::string> shown;
  for (size_t i = 0; i < names.size() && i < kMaxNamesShown; ++i) {
    shown.push_back(StrCat("\"", names[i], "\""));
  }
  if (names.size() > kMaxNamesShown) {
    shown.push_back(StrCat("and ", names.size() - kMaxNamesShown, " more"));
  }
  return absl::StrJoin(shown, ", ");
}

}  // namespace

absl::StatusOr<std::vector<int>> MatchColumns(absl::Span<const std::string> column_names,
                                              int columns, absl::Span<const std::string> features,
                                              int model_inputs) {
  if (column_names.empty()) {
    if (columns != model_inputs) {
      return absl::InvalidArgumentError(StrCat("inputs.cols must be ", model_inputs,
                                               ", the model's feature count (got ", columns, ")"));
    }
    std::vector<int> order(model_inputs);
    for (int c = 0; c < model_inputs; ++c) order[c] = c;
    return order;
  }
  if (static_cast<int>(column_names.size()) != columns) {
    return absl::InvalidArgumentError(StrCat("column_names has ", column_names.size(),
                                             " names but inputs.cols is ", columns,
                                             "; name every column once"));
  }
  if (features.empty()) {
    return absl::InvalidArgumentError(StrCat(
        "column_names: this model has no feature names (it was trained on inline data without "
        "feature_names), so columns cannot be matched by name; send its ",
        model_inputs, " columns unnamed, in training order"));
  }
  absl::flat_hash_map<std::string, int> column_of;
  std::vector<std::string> repeated, unknown, missing;
  const absl::flat_hash_set<std::string> feature_set(features.begin(), features.end());
  for (int c = 0; c < columns; ++c) {
    const std::string& name = column_names[c];
    if (!column_of.emplace(name, c).second) {
      if (std::find(repeated.begin(), repeated.end(), name) == repeated.end()) {
        repeated.push_back(name);
      }
    } else if (!feature_set.contains(name)) {
      unknown.push_back(name);
    }
  }
  std::vector<int> order;
  order.reserve(features.size());
  for (const std::string& feature : features) {
    auto found = column_of.find(feature);
    if (found == column_of.end()) {
      missing.push_back(feature);
    } else {
      order.push_back(found->second);
    }
  }
  if (unknown.empty() && missing.empty() && repeated.empty()) return order;
  std::vector<std::string> problems;
  if (!unknown.empty()) problems.push_back(StrCat("unknown ", QuotedList(unknown)));
  if (!missing.empty()) problems.push_back(StrCat("missing ", QuotedList(missing)));
  if (!repeated.empty()) problems.push_back(StrCat("named twice ", QuotedList(repeated)));
  return absl::InvalidArgumentError(
      StrCat("column_names do not match the model's features: ", absl::StrJoin(problems, "; "),
             ". Send one column per feature, named as in training, and no other columns; the ",
             features.size(), " features are ",
             QuotedList(std::vector<std::string>(features.begin(), features.end()))));
}

Matrix ReorderColumns(const Matrix& x, absl::Span<const int> order) {
  Matrix out(x.rows(), static_cast<int>(order.size()));
  for (int r = 0; r < x.rows(); ++r) {
    const float* in = x.row(r);
    float* row = out.row(r);
    for (size_t c = 0; c < order.size(); ++c) row[c] = in[order[c]];
  }
  return out;
}

}  // namespace descent::server
