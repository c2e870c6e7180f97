#ifndef GRIDLOOP_COMMON_LOG_LOG_H_
#define GRIDLOOP_COMMON_LOG_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

// Structured logs: one JSON object per line on stderr, so a log shipper needs no parser
// of its own. Debian's Abseil has no absl/log; this is deliberately small.
// Thread-safe: a line is written with one write(2).

namespace gridloop::log {

enum class Level { kDebug, kInfo, kWarn, kError };

using Field = std::pair<absl::string_view, std::string>;

// Names the process in every line ("svc"). Call once at start-up, before threads.
void SetService(absl::string_view service);
// Lines below `level` are dropped. Default kInfo; GRIDLOOP_LOG_LEVEL=debug lowers it.
void SetLevel(Level level);
bool Enabled(Level level);

void Write(Level level, absl::string_view msg, std::initializer_list<Field> fields);

inline void Debug(absl::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, msg, fields);
}
inline void Info(absl::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(Level::kInfo, msg, fields);
}
inline void Warn(absl::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(Level::kWarn, msg, fields);
}
inline void Error(absl::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(Level::kError, msg, fields);
}

// Escapes `s` for a JSON string body.
std::string JsonEscape(absl::string_view s);

}  // namespace gridloop::log

#endif  // GRIDLOOP_COMMON_LOG_LOG_H_
