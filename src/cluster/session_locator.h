// SessionLocator: where a session lives in a cluster of tgpulse nodes, and where a new login should
// start. The request forwarder (request_forwarder.h) asks it before serving a session's route: a
// session that is live on this node is served here; one owned by another live node is forwarded to
// that node's advertised URL; one that is not owned by anyone right now (its owner died and the lease
// has not been taken over yet) is answered 503 with Retry-After by the forwarder.
//
// Implementations: the cluster node's (lease table in PostgreSQL, cluster_node.h) and test doubles.
//
// Thread-safety: every member may be called concurrently from any executor.
#pragma once

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>

#include "core/result.h"
#include <optional>
#include <string>
#include <vector>

namespace tgpulse::cluster {

// Another node, as the others reach it.
struct NodeAddress {
  std::string node_id;  // cluster.node_id of that node
  std::string url;      // its cluster.advertise_url: "http://host:port" (no path, no trailing slash)
};

class SessionLocator {
 public:
  enum class Where {
    here,       // live on this node (or unknown to the cluster: serve here, which answers 404)
    elsewhere,  // owned by `owner`, a live node other than this one
    moving,     // owned by nobody right now (lease expired or handed over, not yet taken): retry soon
  };
  struct Location {
    Where where = Where::here;
    NodeAddress owner;  // with elsewhere
  };

  virtual ~SessionLocator() = default;
  // This node's id.
  virtual const std::string& self_node() const = 0;
  // Where `session_id` lives. Answers `here` at once (no store call) when the session is live on this
  // node. A store that cannot be asked: `here` (the local answer is then 404 or the local session).
  virtual boost::asio::awaitable<Location> locate(std::string session_id) = 0;
  // The node a new login (QR or phone) should start on: the live node with the fewest sessions, or
  // nullopt for this node (also when this node is within one session of the least loaded).
  virtual std::optional<NodeAddress> placement() = 0;
  // The other live nodes now (for requests every node must answer: the tenant's session list, a
  // tenant's deletion), asked of the store, not of the last renewal, so a node that joined a moment ago
  // is among them. A store that cannot be asked: unavailable.
  virtual boost::asio::awaitable<Result<std::vector<NodeAddress>>> peers() = 0;
};

}  // namespace tgpulse::cluster
