// LeaseStore: the cluster's tables in PostgreSQL — the nodes with their heartbeat and load, and one
// lease per session (owner node, expiry on the database's clock, fencing epoch) — and the statements a
// node runs on them (docs/scaling.md). It has a small connection pool of its own, so a renewal never
// waits behind the session store's calls.
//
// Every call is one statement (register_node: two, in one transaction). The tables come with the
// PostgreSQL session store's migrations (schema 3): open the session store first.
//
// Thread-safety: thread-safe; calls block (network round trips): call them from the cluster node's own
// thread or the blocking pool, never from an event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/postgres_connection_pool.h"
#include "store/postgres_options.h"

namespace tgpulse::cluster {

struct NodeRow {
  std::string node_id;
  std::string url;
  std::int64_t sessions = 0;  // as the node reported with its last heartbeat
};

struct HeldLease {
  std::string session_id;
  std::int64_t epoch = 0;
};

struct RenewOutcome {
  bool registered = false;            // false: this node's row is gone or another incarnation took it
  std::vector<HeldLease> renewed;     // every lease of this node still valid, now extended
  std::vector<NodeRow> live_nodes;    // nodes with a heartbeat within the lease TTL, not leaving
};

struct ClaimedLease {
  std::string session_id;
  std::int64_t epoch = 0;
  bool handed_over = false;        // released by a leaving node (else: its lease ran out)
  double orphaned_seconds = 0;     // since the previous owner's last heartbeat (or its release)
};

class LeaseStore {
 public:
  // Connects a pool of two connections with the statements prepared. `ttl` is the lease TTL every
  // renewal and claim grants.
  static Result<std::unique_ptr<LeaseStore>> open(store::PostgresOptions options, std::chrono::milliseconds ttl);

  // Registers this node (a new incarnation). conflict while a live node (heartbeat within the TTL,
  // not leaving) holds the id with another incarnation: the message says how long until it is free.
  // Expires every lease an earlier incarnation of this id left (it is dead: its heartbeat is older than
  // the TTL), and gives a lease to every session that has none yet and is older than a minute (sessions
  // created before the cluster was turned on).
  Status register_node(const std::string& node_id, std::int64_t incarnation, const std::string& url);
  // Heartbeat, load and every still-valid lease of this node extended, in one statement.
  Result<RenewOutcome> renew(const std::string& node_id, std::int64_t incarnation, std::int64_t sessions);
  // Takes up to this node's fair share (ceil(leases / live nodes) - held) of the leases nobody holds,
  // oldest first, skipping rows another node is claiming at the same moment. Each taken lease's epoch
  // is one more than before.
  Result<std::vector<ClaimedLease>> claim(const std::string& node_id);
  // The lease of a session this node just created (epoch 1). conflict if it already has one.
  Result<std::int64_t> acquire_new(const std::string& session_id, const std::string& node_id);
  // Where a session is: its owner's id and URL when the lease is valid; `moving` when it has a lease
  // nobody holds now; nullopt when it has no lease (no such session).
  struct Location {
    bool valid = false;
    std::string owner;
    std::string url;
  };
  Result<std::optional<Location>> locate(const std::string& session_id);
  // Ends every lease this node still holds, now (handed over: the others claim them at once). Call it
  // only once its sessions are closed.
  Status release(const std::string& node_id);
  // The live nodes: heartbeat within the TTL, not leaving.
  Result<std::vector<NodeRow>> live_nodes();
  // This node is leaving (SIGTERM): no more placements; `forget` also removes its row (the last step).
  Status set_leaving(const std::string& node_id, std::int64_t incarnation, bool forget);

 private:
  LeaseStore(std::shared_ptr<store::PostgresConnectionPool> pool, std::chrono::milliseconds ttl)
      : pool_(std::move(pool)), ttl_(ttl) {}
  double ttl_seconds() const { return static_cast<double>(ttl_.count()) / 1000.0; }

  std::shared_ptr<store::PostgresConnectionPool> pool_;
  const std::chrono::milliseconds ttl_;
};

}  // namespace tgpulse::cluster
