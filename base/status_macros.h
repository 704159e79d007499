// Status propagation helpers. Abseil 20220623 ships neither RETURN_IF_ERROR nor
// ASSIGN_OR_RETURN, so the project keeps its one copy here, in base/, which engine, server
// and client all sit on.
#ifndef DESCENT_BASE_STATUS_MACROS_H_
#define DESCENT_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status descent_status_ = (expr);           \
    if (!descent_status_.ok()) return descent_status_; \
  } while (false)

#define DESCENT_CONCAT_INNER_(a, b) a##b
#define DESCENT_CONCAT_(a, b) DESCENT_CONCAT_INNER_(a, b)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error returns its
// status, otherwise move-assigns the value to `lhs` (which may be a declaration: `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  DESCENT_ASSIGN_OR_RETURN_IMPL_(DESCENT_CONCAT_(descent_statusor_, __LINE__), lhs, expr)
#define DESCENT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return statusor.status();             \
  lhs = std::move(statusor).value()

// CHECK-style guard for broken invariants: a bug, so crash loudly with the location.
#define DESCENT_CHECK(cond)                                                   \
  do {                                                                        \
    if (!(cond)) ::descent::internal::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (false)

namespace descent::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition);
}  // namespace descent::internal

#endif  // DESCENT_BASE_STATUS_MACROS_H_
