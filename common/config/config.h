#ifndef GRIDLOOP_COMMON_CONFIG_CONFIG_H_
#define GRIDLOOP_COMMON_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gridloop::config {

// Settings from command-line flags with environment fallbacks, named the same way in
// every service: setting `redis` is the flag `--redis=host:port` or the variable
// `GRIDLOOP_REDIS`; `residents_addr` is `--residents-addr` or `GRIDLOOP_RESIDENTS_ADDR`.
// A flag wins over the environment, the environment over the default.
class Settings {
 public:
  // Parses `--name=value` / `--name value` flags. Unknown positional arguments are an
  // error (InvalidArgument naming them). `env` is consulted for fallbacks.
  static absl::StatusOr<Settings> Parse(int argc, const char* const* argv,
                                        std::map<std::string, std::string> env);
  // As above with the process environment.
  static absl::StatusOr<Settings> FromProcess(int argc, char** argv);

  // The value of setting `name` (snake_case), or `fallback`.
  std::string Get(absl::string_view name, absl::string_view fallback = "") const;
  bool Has(absl::string_view name) const;
  // InvalidArgument naming the setting when the value is not a number / duration
  // ("250ms", "5s", "24h") / host:port.
  absl::StatusOr<int64_t> GetInt(absl::string_view name, int64_t fallback) const;
  absl::StatusOr<absl::Duration> GetDuration(absl::string_view name, absl::Duration fallback) const;
  absl::StatusOr<bool> GetBool(absl::string_view name, bool fallback) const;

  // The environment variable that backs `name`: "GRIDLOOP_" + upper-case name.
  static std::string EnvName(absl::string_view name);

 private:
  std::map<std::string, std::string> flags_;  // keyed by snake_case name
  std::map<std::string, std::string> env_;
};

struct HostPort {
  std::string host;
  int port = 0;
};

// Splits "host:port" (port 0..65535). InvalidArgument naming `what` otherwise.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view value, absl::string_view what);

}  // namespace gridloop::config

#endif  // GRIDLOOP_COMMON_CONFIG_CONFIG_H_
