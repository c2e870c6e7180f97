#ifndef GRIDLOOP_COMMON_STATUS_STATUS_MACROS_H_
#define GRIDLOOP_COMMON_STATUS_STATUS_MACROS_H_

// Debian's Abseil 20220623 predates absl/status/status_macros.h; these are the
// project's own, with the same meaning.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GRIDLOOP_STATUS_CONCAT_INNER_(a, b) a##b
#define GRIDLOOP_STATUS_CONCAT_(a, b) GRIDLOOP_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                                               \
  do {                                                                      \
    if (::absl::Status gridloop_status_ = (expr); !gridloop_status_.ok()) { \
      return gridloop_status_;                                              \
    }                                                                       \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares `x` from an OK StatusOr, or returns its
// status from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  GRIDLOOP_ASSIGN_OR_RETURN_IMPL_(GRIDLOOP_STATUS_CONCAT_(gridloop_statusor_, __LINE__), lhs, expr)

// `statusor` is a name being declared and `lhs` may be a declaration (`auto x`): neither
// can be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define GRIDLOOP_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                    \
  if (!statusor.ok()) {                                      \
    return std::move(statusor).status();                     \
  }                                                          \
  lhs = *std::move(statusor)
// NOLINTEND(bugprone-macro-parentheses)

#endif  // GRIDLOOP_COMMON_STATUS_STATUS_MACROS_H_
