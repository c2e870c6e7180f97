#ifndef GRIDLOOP_TOOLS_GRIDCTL_IMPORT_GRPC_SENDER_H_
#define GRIDLOOP_TOOLS_GRIDCTL_IMPORT_GRPC_SENDER_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "tools/gridctl/import/importer.h"

namespace gridloop::gridctl {

// Who the import runs as, sent with every call as x-gridloop-person, x-gridloop-role and
// x-gridloop-region.
struct ImportCaller {
  std::string person = "import";
  std::string role = "operator";
  std::string region_scope;  // empty: no scope
};

// A BatchSender calling ResidentService.ImportBatch on `channel`, each call with
// `deadline`. The gRPC status of a failed call becomes the absl::Status of the same code.
// Thread-safe.
BatchSender MakeGrpcBatchSender(const std::shared_ptr<grpc::Channel>& channel, ImportCaller caller,
                                absl::Duration deadline);

}  // namespace gridloop::gridctl

#endif  // GRIDLOOP_TOOLS_GRIDCTL_IMPORT_GRPC_SENDER_H_
