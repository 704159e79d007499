#include "server/datasets/table_dataset.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace descent::server {
namespace {

using ::absl::InvalidArgumentError;
using ::absl::StrCat;

std::string ColumnList(const CsvTable& table) {
  std::vector<std::string> names;
  for (const CsvColumn& column : table.columns) names.push_back(column.name);
  return absl::StrJoin(names, ", ");
}

// Where a text column's first non-number is, for messages.
std::string TextCell(const CsvColumn& column, int index) {
  return StrCat("line ", column.first_text_line, ", column ", index + 1, ": \"",
                column.first_text, "\"");
}

// Resolves names to column indices; `field` is e.g. "spec.dataset.targets".
absl::StatusOr<std::vector<int>> FindColumns(const CsvTable& table,
                                             const google::protobuf::RepeatedPtrField<std::string>& names,
                                             absl::string_view field) {
  absl::flat_hash_map<std::string, int> index;
  for (size_t i = 0; i < table.columns.size(); ++i) index[table.columns[i].name] = static_cast<int>(i);
  std::vector<int> result;
  absl::flat_hash_set<int> seen;
  for (int i = 0; i < names.size(); ++i) {
    auto it = index.find(names[i]);
    if (it == index.end()) {
      return InvalidArgumentError(StrCat(field, "[", i, "] \"", names[i],
                                         "\" is not a column of the dataset (columns: ",
                                         ColumnList(table), ")"));
    }
    if (!seen.insert(it->second).second) {
      return InvalidArgumentError(
          StrCat(field, "[", i, "] \"", names[i], "\" is listed twice; list it once"));
    }
    result.push_back(it->second);
  }
  return result;
}

// Sorted distinct labels of a column (text, or numbers for numeric labels) and each row's
// index among them.
struct Labels {
  std::vector<std::string> names;
  std::vector<int> codes;
};

Labels ColumnLabels(const CsvColumn& column) {
  Labels labels;
  if (!column.numeric) {
    labels.names = column.categories;
    labels.codes.assign(column.codes.begin(), column.codes.end());
    return labels;
  }
  std::map<double, int> distinct;
  for (double value : column.numbers) distinct.emplace(value, 0);
  int next = 0;
  for (auto& [value, code] : distinct) {
    code = next++;
    labels.names.push_back(StrCat(value));
  }
  labels.codes.reserve(column.numbers.size());
  for (double value : column.numbers) labels.codes.push_back(distinct.at(value));
  return labels;
}

absl::Status CheckTwoOrMoreClasses(const Labels& labels, const CsvColumn& column,
                                   absl::string_view path, int64_t rows) {
  if (labels.names.size() >= 2) return absl::OkStatus();
  return InvalidArgumentError(StrCat(path, ": column \"", column.name,
                                     "\" has one class only (\"", labels.names.front(),
                                     "\" in all ", rows,
                                     " rows); a classifier needs rows of two or more classes"));
}

// Copies a numeric column into column `j` of `out`: the engine trains in float32, so a
// value beyond its range is an error rather than an infinity.
absl::Status CopyColumn(const CsvColumn& column, int j, Matrix* out) {
  for (int r = 0; r < out->rows(); ++r) {
    const float value = static_cast<float>(column.numbers[r]);
    if (!std::isfinite(value)) {
      return InvalidArgumentError(StrCat("spec.dataset: column \"", column.name, "\" data row ",
                                         r + 1, " holds ", column.numbers[r],
                                         ", beyond float32's range (about 3.4e38); rescale it"));
    }
    out->row(r)[j] = value;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Dataset> TableToDataset(const CsvTable& table, const v1::DatasetSource& source,
                                       v1::Loss loss) {
  if (source.targets().empty()) {
    return InvalidArgumentError(StrCat(
        "spec.dataset.targets must name the column(s) to predict, e.g. [\"", table.columns.back().name,
        "\"] (columns: ", ColumnList(table), ")"));
  }
  ASSIGN_OR_RETURN(const std::vector<int> targets,
                   FindColumns(table, source.targets(), "spec.dataset.targets"));
  std::vector<int> features;
  if (source.features().empty()) {
    for (size_t i = 0; i < table.columns.size(); ++i) {
      if (std::find(targets.begin(), targets.end(), static_cast<int>(i)) == targets.end()) {
        features.push_back(static_cast<int>(i));
      }
    }
    if (features.empty()) {
      return InvalidArgumentError(
          "spec.dataset.targets leaves no feature column; the table needs at least one more "
          "numeric column");
    }
  } else {
    ASSIGN_OR_RETURN(features, FindColumns(table, source.features(), "spec.dataset.features"));
    for (size_t i = 0; i < features.size(); ++i) {
      if (std::find(targets.begin(), targets.end(), features[i]) != targets.end()) {
        return InvalidArgumentError(StrCat("spec.dataset.features[", i, "] \"",
                                           source.features(static_cast<int>(i)),
                                           "\" is also a target; a column is one or the other"));
      }
    }
  }
  for (size_t i = 0; i < features.size(); ++i) {
    const CsvColumn& column = table.columns[features[i]];
    if (column.numeric) continue;
    const std::string field =
        source.features().empty() ? "spec.dataset.features"
                                  : StrCat("spec.dataset.features[", i, "]");
    return InvalidArgumentError(StrCat(
        field, ": column \"", column.name, "\" is not numeric (", TextCell(column, features[i]),
        "); encode it as numbers, or list only numeric columns in spec.dataset.features"));
  }

  Dataset dataset;
  const int rows = static_cast<int>(table.rows);
  dataset.features = Matrix(rows, static_cast<int>(features.size()));
  for (size_t j = 0; j < features.size(); ++j) {
    const CsvColumn& column = table.columns[features[j]];
    dataset.feature_names.push_back(column.name);
    RETURN_IF_ERROR(CopyColumn(column, static_cast<int>(j), &dataset.features));
  }

  switch (loss) {
    case v1::MEAN_SQUARED_ERROR: {
      dataset.targets = Matrix(rows, static_cast<int>(targets.size()));
      for (size_t j = 0; j < targets.size(); ++j) {
        const CsvColumn& column = table.columns[targets[j]];
        if (!column.numeric) {
          return InvalidArgumentError(StrCat(
              "spec.dataset.targets[", j, "]: column \"", column.name, "\" holds text (",
              TextCell(column, targets[j]),
              "); MEAN_SQUARED_ERROR predicts numbers: use CATEGORICAL_CROSS_ENTROPY or "
              "BINARY_CROSS_ENTROPY for class labels"));
        }
        RETURN_IF_ERROR(CopyColumn(column, static_cast<int>(j), &dataset.targets));
      }
      return dataset;
    }
    case v1::CATEGORICAL_CROSS_ENTROPY: {
      if (targets.size() != 1) {
        return InvalidArgumentError(
            StrCat("spec.dataset.targets must name one column for CATEGORICAL_CROSS_ENTROPY (got ",
                   targets.size(), "): the column of class labels"));
      }
      const CsvColumn& column = table.columns[targets[0]];
      Labels labels = ColumnLabels(column);
      RETURN_IF_ERROR(CheckTwoOrMoreClasses(labels, column, "spec.dataset.targets[0]", rows));
      dataset.targets = Matrix(rows, 1);
      for (int r = 0; r < rows; ++r) dataset.targets.row(r)[0] = static_cast<float>(labels.codes[r]);
      dataset.num_classes = static_cast<int>(labels.names.size());
      dataset.class_names = std::move(labels.names);
      return dataset;
    }
    case v1::BINARY_CROSS_ENTROPY: {
      dataset.targets = Matrix(rows, static_cast<int>(targets.size()));
      for (size_t j = 0; j < targets.size(); ++j) {
        const CsvColumn& column = table.columns[targets[j]];
        const std::string path = StrCat("spec.dataset.targets[", j, "]");
        Labels labels = ColumnLabels(column);
        RETURN_IF_ERROR(CheckTwoOrMoreClasses(labels, column, path, rows));
        if (labels.names.size() > 2) {
          return InvalidArgumentError(StrCat(
              path, ": column \"", column.name, "\" has ", labels.names.size(),
              " distinct values; BINARY_CROSS_ENTROPY needs exactly two per column: use "
              "CATEGORICAL_CROSS_ENTROPY for more classes"));
        }
        for (int r = 0; r < rows; ++r) {
          dataset.targets.row(r)[j] = static_cast<float>(labels.codes[r]);
        }
        if (targets.size() == 1) dataset.class_names = std::move(labels.names);
      }
      dataset.num_classes = 2;
      return dataset;
    }
    default:
      return InvalidArgumentError(
          "spec.loss must be set: MEAN_SQUARED_ERROR (numbers), BINARY_CROSS_ENTROPY (two "
          "classes) or CATEGORICAL_CROSS_ENTROPY (two or more classes)");
  }
}

}  // namespace descent::server
