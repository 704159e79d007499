// Row-major float32 matrix that owns its buffer. Buffers of 2 MiB and more get transparent
// huge pages (huge_pages.h) before their first touch: when allocated, copied or grown.
#ifndef DESCENT_ENGINE_MATRIX_H_
#define DESCENT_ENGINE_MATRIX_H_

#include <cstddef>
#include <vector>

#include "absl/types/span.h"
#include "base/status_macros.h"
#include "engine/huge_pages.h"

namespace descent {

class Matrix {
 public:
  Matrix() = default;
  // A rows x cols matrix of zeros.
  Matrix(int rows, int cols)
      : rows_(rows), cols_(cols), data_(internal::AdvisedVector(Count(rows, cols), 0.0f)) {}
  // Takes `values` (row-major); CHECK-fails unless values.size() == rows * cols.
  Matrix(int rows, int cols, std::vector<float> values)
      : rows_(rows), cols_(cols), data_(std::move(values)) {
    DESCENT_CHECK(data_.size() == Count(rows, cols));
  }
  Matrix(const Matrix& other)
      : rows_(other.rows_), cols_(other.cols_), data_(internal::AdvisedVector(other.size())) {
    data_.assign(other.data_.begin(), other.data_.end());
  }
  Matrix& operator=(const Matrix& other) {
    if (this == &other) return *this;
    if (other.size() > data_.capacity()) data_ = internal::AdvisedVector(other.size());
    data_.assign(other.data_.begin(), other.data_.end());
    rows_ = other.rows_;
    cols_ = other.cols_;
    return *this;
  }
  Matrix(Matrix&&) noexcept = default;
  Matrix& operator=(Matrix&&) noexcept = default;

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float* row(int r) { return data_.data() + static_cast<size_t>(r) * cols_; }
  const float* row(int r) const { return data_.data() + static_cast<size_t>(r) * cols_; }
  float& operator()(int r, int c) { return data_[static_cast<size_t>(r) * cols_ + c]; }
  float operator()(int r, int c) const { return data_[static_cast<size_t>(r) * cols_ + c]; }
  absl::Span<float> span() { return absl::MakeSpan(data_); }
  absl::Span<const float> span() const { return absl::MakeConstSpan(data_); }
  const std::vector<float>& values() const { return data_; }

  // Changes the shape. Contents are unspecified afterwards; never allocates when the new
  // size fits the capacity already reserved, which is what keeps training steps allocation-free.
  void Resize(int rows, int cols) {
    const size_t count = Count(rows, cols);
    // Growing: a fresh buffer, advised before it is touched (the old contents need no copy).
    if (count > data_.capacity()) data_ = internal::AdvisedVector(count);
    rows_ = rows;
    cols_ = cols;
    data_.resize(count);
  }
  // Keeps the contents, like std::vector::reserve.
  void Reserve(size_t elements) {
    if (elements <= data_.capacity()) return;
    std::vector<float> grown = internal::AdvisedVector(elements);
    grown.assign(data_.begin(), data_.end());
    data_.swap(grown);
  }
  void Fill(float value) { std::fill(data_.begin(), data_.end(), value); }

 private:
  static size_t Count(int rows, int cols) {
    DESCENT_CHECK(rows >= 0 && cols >= 0);
    return static_cast<size_t>(rows) * static_cast<size_t>(cols);
  }

  int rows_ = 0;
  int cols_ = 0;
  std::vector<float> data_;
};

}  // namespace descent

#endif  // DESCENT_ENGINE_MATRIX_H_
