#ifndef GRIDLOOP_COMMON_REDIS_MOCK_REDIS_CLIENT_H_
#define GRIDLOOP_COMMON_REDIS_MOCK_REDIS_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"
#include "gmock/gmock.h"

namespace gridloop::redis {

// A gmock Client for unit tests of code that talks to Redis. Build replies with
// Reply::String() etc., and failures with StatusFromErrorReply() or absl::UnavailableError()
// to mimic the real client.
class MockClient : public Client {
 public:
  MOCK_METHOD(absl::StatusOr<Reply>, Command, (std::vector<std::string> argv), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<Reply>>, Pipeline,
              (std::vector<std::vector<std::string>> commands), (override));
  MOCK_METHOD(absl::StatusOr<Reply>, Eval,
              (const Script& script, std::vector<std::string> keys, std::vector<std::string> args),
              (override));
};

}  // namespace gridloop::redis

#endif  // GRIDLOOP_COMMON_REDIS_MOCK_REDIS_CLIENT_H_
