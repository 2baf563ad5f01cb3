// ClusterNode: this node's part in a cluster of tgpulse nodes on one PostgreSQL (docs/scaling.md).
//
//   join():    registers the node (a new incarnation). While a live node still holds the same id (a
//              restart that came before the old process's heartbeat went stale), it waits up to
//              lease_ttl + 2 s for the id to free, then fails naming why.
//   start():   starts two threads of its own:
//     - the lease thread renews every lease and the heartbeat in one statement per renew_interval,
//       compares what the database renewed with what this node holds (a lease that is no longer ours
//       gives its session up; a valid lease of ours whose session is not open — after a fence — opens it
//       again), and every claim_interval claims its fair share of the leases nobody holds and adopts
//       their sessions through the session manager (restore, or finish a login/cleanup).
//     - the fence watchdog: once lease_ttl - fence_margin has passed since the start of the last
//       successful renewal, every session this node holds is given up (its TDLib client closed) before
//       any other node may take its lease. A node cut off from PostgreSQL therefore stops its sessions
//       rather than risk two owners; they come back once it can renew or another node claims them.
//   begin_leaving(): SIGTERM — no more placements here and no more claims; renewals go on while the
//              session manager closes the sessions.
//   finish_leaving(): every lease still held is released (the others claim them at once, without
//              waiting out the TTL), the node's row removed, the threads stopped.
//
// It is the SessionLocator of the request forwarder, the SessionFence of the PostgreSQL store (every
// session write carries this node's epoch) and the SessionOwnership of the session manager.
//
// Metrics: tgpulse_cluster_nodes, tgpulse_cluster_sessions_owned, tgpulse_lease_renew_seconds,
// tgpulse_lease_renew_failures_total, tgpulse_lease_takeovers_total{reason},
// tgpulse_lease_takeover_seconds (from the previous owner's last heartbeat, or its hand-over, to the
// session answering again here), tgpulse_lease_fenced_sessions_total.
//
// Thread-safety: thread-safe. join/start/begin_leaving/finish_leaving from the controlling thread; the
// hooks are called from the lease and watchdog threads and must not block long (the manager's adopt and
// give_up only post work).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_options.h"
#include "cluster/lease_store.h"
#include "cluster/session_locator.h"
#include "core/blocking_pool.h"
#include "session/session_ownership.h"
#include "store/session_fence.h"
#include "store/store_records.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"

namespace tgpulse::cluster {

class ClusterNode final : public SessionLocator, public store::SessionFence, public session::SessionOwnership {
 public:
  // What the node does to the session manager and the store.
  struct Hooks {
    std::function<bool(store::SessionRecord)> adopt;                   // SessionManager::adopt
    std::function<bool(const std::string&, std::string)> give_up;      // SessionManager::give_up
    std::function<Result<store::SessionRecord>(const std::string&)> find_record;  // SessionStore::find_session
  };

  // Connects the lease store's pool. `pool` runs locate()'s store call; it must outlive the node.
  static Result<std::unique_ptr<ClusterNode>> open(ClusterOptions options, const store::PostgresOptions& postgres,
                                                   telemetry::Registry& registry, telemetry::Logger& logger,
                                                   BlockingPool& pool);
  ~ClusterNode() override;
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  Status join();
  void start(Hooks hooks);
  void begin_leaving();
  void finish_leaving();

  const ClusterOptions& options() const noexcept { return options_; }
  // The ids of the live nodes as of the last successful renewal (this node included while it renews and
  // is not leaving), sorted. Empty before the first renewal and while fenced.
  std::vector<std::string> live_node_ids() const;
  std::size_t held_count() const;

  // SessionLocator
  const std::string& self_node() const override { return options_.node_id; }
  boost::asio::awaitable<Location> locate(std::string session_id) override;
  std::optional<NodeAddress> placement() override;
  boost::asio::awaitable<Result<std::vector<NodeAddress>>> peers() override;
  // SessionFence
  const std::string& node_id() const override { return options_.node_id; }
  std::optional<std::int64_t> epoch_of(std::string_view session_id) const override;
  // SessionOwnership
  Status acquire_new(const std::string& session_id) override;
  bool holds(std::string_view session_id) const override;
  void left(const std::string& session_id, bool removed) override;
  void resumed(const std::string& session_id) override;

 private:
  struct Metrics;
  ClusterNode(ClusterOptions options, std::unique_ptr<LeaseStore> leases, telemetry::Registry& registry,
              telemetry::Logger& logger, BlockingPool& pool);
  void lease_loop();
  void watchdog_loop();
  void renew_once();
  void claim_once();
  // Gives up every held session (the fence, or the node's row gone); `why` goes to the log.
  void fence_all(const std::string& why);
  // Loads the session's record and hands it to the manager; false when it is gone.
  bool adopt_one(const std::string& session_id, std::int64_t epoch);

  const ClusterOptions options_;
  const std::unique_ptr<LeaseStore> leases_;
  telemetry::Logger& logger_;
  BlockingPool& pool_;
  std::unique_ptr<Metrics> metrics_;
  const std::int64_t incarnation_;
  Hooks hooks_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, std::int64_t, std::less<>> held_;  // session id → epoch; guarded by mu_
  std::set<std::string, std::less<>> acquiring_;           // new sessions whose lease is being taken; mu_
  std::set<std::string, std::less<>> adopting_;            // claimed sessions not yet in the manager; mu_
  // Taken-over sessions not resumed yet: when their previous owner was last seen (steady clock). mu_
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> orphaned_since_;
  std::vector<NodeRow> live_nodes_;                        // as of the last renewal; mu_
  // Start of the last successful renewal (steady clock); the fence is at + ttl - fence_margin. mu_
  std::chrono::steady_clock::time_point renewed_at_;
  bool fenced_ = false;  // the watchdog fenced and no renewal succeeded since; mu_
  bool leaving_ = false;  // mu_
  bool stopping_ = false;  // mu_
  std::thread lease_thread_;
  std::thread watchdog_thread_;
};

}  // namespace tgpulse::cluster
