#ifndef GRIDLOOP_COMMON_REDIS_INTERNAL_REPLY_H_
#define GRIDLOOP_COMMON_REDIS_INTERNAL_REPLY_H_

#include <hiredis/hiredis.h>

#include "common/redis/redis_client.h"

namespace gridloop::redis::internal {

// Copies a hiredis reply (and its children) into a Reply, so no hiredis type escapes.
Reply CopyReply(const redisReply& r);

}  // namespace gridloop::redis::internal

#endif  // GRIDLOOP_COMMON_REDIS_INTERNAL_REPLY_H_
