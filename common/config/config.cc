#include "common/config/config.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace gridloop::config {
namespace {

std::string FlagToName(absl::string_view flag) {
  std::string name(flag);
  for (char& c : name) c = c == '-' ? '_' : absl::ascii_tolower(c);
  return name;
}

}  // namespace

std::string Settings::EnvName(absl::string_view name) {
  std::string upper(name);
  absl::AsciiStrToUpper(&upper);
  return absl::StrCat("GRIDLOOP_", upper);
}

absl::StatusOr<Settings> Settings::Parse(int argc, const char* const* argv,
                                         std::map<std::string, std::string> env) {
  Settings s;
  s.env_ = std::move(env);
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", arg, "\": settings are --name=value"));
    }
    arg.remove_prefix(2);
    absl::string_view name = arg;
    std::string value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
      value = argv[++i];
    } else {
      value = "true";  // a bare --flag is a boolean switch
    }
    s.flags_[FlagToName(name)] = std::move(value);
  }
  return s;
}

absl::StatusOr<Settings> Settings::FromProcess(int argc, char** argv) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view kv = *e;
    if (!absl::StartsWith(kv, "GRIDLOOP_")) continue;
    size_t eq = kv.find('=');
    if (eq == absl::string_view::npos) continue;
    env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  return Parse(argc, argv, std::move(env));
}

bool Settings::Has(absl::string_view name) const {
  return flags_.count(std::string(name)) > 0 || env_.count(EnvName(name)) > 0;
}

std::string Settings::Get(absl::string_view name, absl::string_view fallback) const {
  if (auto it = flags_.find(std::string(name)); it != flags_.end()) return it->second;
  if (auto it = env_.find(EnvName(name)); it != env_.end()) return it->second;
  return std::string(fallback);
}

absl::StatusOr<int64_t> Settings::GetInt(absl::string_view name, int64_t fallback) const {
  if (!Has(name)) return fallback;
  std::string v = Get(name);
  int64_t out = 0;
  if (!absl::SimpleAtoi(v, &out)) {
    return absl::InvalidArgumentError(
        absl::StrCat(EnvName(name), ": \"", v, "\" is not a whole number"));
  }
  return out;
}

absl::StatusOr<absl::Duration> Settings::GetDuration(absl::string_view name,
                                                     absl::Duration fallback) const {
  if (!Has(name)) return fallback;
  std::string v = Get(name);
  absl::Duration out;
  if (!absl::ParseDuration(v, &out) || out < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(EnvName(name), ": \"", v, "\" is not a duration such as 250ms, 5s or 24h"));
  }
  return out;
}

absl::StatusOr<bool> Settings::GetBool(absl::string_view name, bool fallback) const {
  if (!Has(name)) return fallback;
  std::string v = absl::AsciiStrToLower(Get(name));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return absl::InvalidArgumentError(absl::StrCat(EnvName(name), ": \"", v, "\" is not a boolean"));
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view value, absl::string_view what) {
  size_t colon = value.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": \"", value, "\" is not host:port"));
  }
  HostPort hp;
  hp.host = std::string(value.substr(0, colon));
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  if (!absl::SimpleAtoi(value.substr(colon + 1), &hp.port) || hp.port < 0 || hp.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": \"", value, "\" has no valid port"));
  }
  return hp;
}

}  // namespace gridloop::config
