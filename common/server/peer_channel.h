#ifndef GRIDLOOP_COMMON_SERVER_PEER_CHANNEL_H_
#define GRIDLOOP_COMMON_SERVER_PEER_CHANNEL_H_

// The channel one GridLoop service uses to call another.

#include <grpcpp/channel.h>

#include <memory>
#include <string>

namespace gridloop::server {

// An insecure channel to `target` ("host:port", or a DNS name resolving to replicas) tuned
// for peers that restart: gRPC's default reconnect backoff grows to 120 s, so a caller
// could keep failing for two minutes after its peer came back; here it retries the
// connection at most every 2 s. Keepalive pings notice a peer that vanished without
// closing its connections (a node lost, a network partition) instead of waiting for the
// kernel. Calls still carry their own deadlines.
std::shared_ptr<grpc::Channel> PeerChannel(const std::string& target);

}  // namespace gridloop::server

#endif  // GRIDLOOP_COMMON_SERVER_PEER_CHANNEL_H_
