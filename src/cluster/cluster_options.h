// ClusterOptions: how a node takes part in a cluster of tgpulse nodes on one PostgreSQL (cluster.*;
// docs/scaling.md). An empty node_id (the default) runs a single node, exactly as without a cluster.
//
// Timing: a node renews all its leases every renew_interval; each renewal makes them last lease_ttl
// from the database's clock. A node that cannot renew closes every session it holds once
// lease_ttl - fence_margin has passed since the start of its last successful renewal (by its own
// monotonic clock, which cannot run ahead of the database's by more than the renewal's round trip), so
// its sessions are closed before any other node may take them; the others look for expired leases every
// claim_interval. A session of a node killed with SIGKILL resumes elsewhere after at most
// lease_ttl + claim_interval + its restore.
//
// Thread-safety: a value type.
#pragma once

#include <chrono>
#include <string>

namespace tgpulse::cluster {

struct ClusterOptions {
  // cluster.node_id (TGPULSE_CLUSTER_NODE_ID): this node's name, unique in the cluster, 1-64 characters
  // of [A-Za-z0-9_.-]. "" (default) = no cluster. Requires store.url (PostgreSQL) and a data directory
  // every node reaches (docs/scaling.md, "Session data between nodes").
  std::string node_id;
  // cluster.advertise_url: how the other nodes reach this node's API listener ("http://host:port"),
  // for requests they forward here. Default "" = derived from server.listen, which must then name a
  // specific address (not 0.0.0.0 or ::).
  std::string advertise_url;
  // cluster.lease_ttl: how long a renewal keeps a lease. Default 15 s. Longer = fewer false failovers on
  // a slow database, slower failover after a crash.
  std::chrono::milliseconds lease_ttl{15'000};
  // cluster.renew_interval: how often the node renews its leases and heartbeat (one statement).
  // Default 3 s; must leave at least two renewals before the fence (renew_interval * 2 <= lease_ttl -
  // fence_margin).
  std::chrono::milliseconds renew_interval{3'000};
  // cluster.fence_margin: how long before its leases can end a node that could not renew closes its
  // sessions. Default 5 s (closing thousands of TDLib clients takes a moment).
  std::chrono::milliseconds fence_margin{5'000};
  // cluster.claim_interval: how often the node looks for sessions nobody holds (a dead or departed
  // node's) and takes its share. Default 1 s.
  std::chrono::milliseconds claim_interval{1'000};

  bool enabled() const noexcept { return !node_id.empty(); }
  bool operator==(const ClusterOptions&) const = default;
};

// A valid node id: 1-64 characters of [A-Za-z0-9_.-].
inline bool is_valid_node_id(const std::string& id) noexcept {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace tgpulse::cluster
