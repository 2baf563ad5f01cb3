#include "cluster/cluster_node.h"

#include <algorithm>
#include <random>

#include "session/blocking_call.h"

namespace tgpulse::cluster {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;

struct ClusterNode::Metrics {
  explicit Metrics(telemetry::Registry& r)
      : nodes(r.gauge("tgpulse_cluster_nodes", "Live nodes of the cluster as of this node's last renewal").get()),
        owned(r.gauge("tgpulse_cluster_sessions_owned", "Sessions whose lease this node holds").get()),
        renew_seconds(r.histogram("tgpulse_lease_renew_seconds", "Round trip of this node's lease renewals",
                                  {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})
                          .get()),
        renew_failures(r.counter("tgpulse_lease_renew_failures_total",
                                 "Lease renewals of this node that failed (the database did not answer in time)")
                           .get()),
        takeovers_expired(takeovers(r).labels({"expired"})),
        takeovers_handover(takeovers(r).labels({"handover"})),
        takeover_seconds(r.histogram("tgpulse_lease_takeover_seconds",
                                     "From the previous owner's last heartbeat (or its hand-over) to the session "
                                     "answering again on this node",
                                     {0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300})
                             .get()),
        fenced(r.counter("tgpulse_lease_fenced_sessions_total",
                         "Sessions this node closed because it could not renew their lease in time or lost it")
                   .get()) {}
  static telemetry::CounterFamily& takeovers(telemetry::Registry& r) {
    return r.counter("tgpulse_lease_takeovers_total",
                     "Sessions this node took over from another node, by why their lease was free", {"reason"});
  }
  telemetry::Gauge& nodes;
  telemetry::Gauge& owned;
  telemetry::Histogram& renew_seconds;
  telemetry::Counter& renew_failures;
  telemetry::Counter& takeovers_expired;
  telemetry::Counter& takeovers_handover;
  telemetry::Histogram& takeover_seconds;
  telemetry::Counter& fenced;
};

namespace {
std::int64_t new_incarnation() {
  std::random_device rd;
  std::uniform_int_distribution<std::int64_t> d(1, INT64_MAX);
  return d(rd);
}
}  // namespace

Result<std::unique_ptr<ClusterNode>> ClusterNode::open(ClusterOptions options, const store::PostgresOptions& postgres,
                                                       telemetry::Registry& registry, telemetry::Logger& logger,
                                                       BlockingPool& pool) {
  auto leases = LeaseStore::open(postgres, options.lease_ttl);
  if (!leases) return leases.error();
  return std::unique_ptr<ClusterNode>(new ClusterNode(std::move(options), std::move(*leases), registry, logger, pool));
}

ClusterNode::ClusterNode(ClusterOptions options, std::unique_ptr<LeaseStore> leases, telemetry::Registry& registry,
                         telemetry::Logger& logger, BlockingPool& pool)
    : options_(std::move(options)),
      leases_(std::move(leases)),
      logger_(logger),
      pool_(pool),
      metrics_(std::make_unique<Metrics>(registry)),
      incarnation_(new_incarnation()) {}

ClusterNode::~ClusterNode() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (lease_thread_.joinable()) lease_thread_.join();
  if (watchdog_thread_.joinable()) watchdog_thread_.join();
}

Status ClusterNode::join() {
  const auto give_up_at = Steady::now() + options_.lease_ttl + std::chrono::seconds(2);
  bool waited = false;
  for (;;) {
    const auto started = Steady::now();
    Status st = leases_->register_node(options_.node_id, incarnation_, options_.advertise_url);
    if (st) {
      std::lock_guard lock(mu_);
      renewed_at_ = started;
      break;
    }
    if (st.error().code != Errc::conflict || Steady::now() >= give_up_at) {
      return Error(st.error().code, "cluster: " + st.error().message);
    }
    if (!waited) {
      logger_.warn("Cluster node id still held, waiting for it to free",
                   {{"cluster.node_id", options_.node_id}, {"error.message", st.error().message}});
      waited = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  logger_.info("Cluster node registered", {{"cluster.node_id", options_.node_id},
                                           {"cluster.advertise_url", options_.advertise_url},
                                           {"cluster.lease_ttl_ms", static_cast<std::int64_t>(options_.lease_ttl.count())}});
  return {};
}

void ClusterNode::start(Hooks hooks) {
  hooks_ = std::move(hooks);
  // One renewal before anything is served: the live nodes are known from the first request on (the
  // session list asks every peer; placement picks among them).
  renew_once();
  lease_thread_ = std::thread([this] { lease_loop(); });
  watchdog_thread_ = std::thread([this] { watchdog_loop(); });
}

void ClusterNode::begin_leaving() {
  {
    std::lock_guard lock(mu_);
    if (leaving_) return;
    leaving_ = true;
  }
  if (Status st = leases_->set_leaving(options_.node_id, incarnation_, false); !st) {
    logger_.warn("Cluster node could not announce it is leaving", {{"error.message", st.error().message}});
  }
}

void ClusterNode::finish_leaving() {
  begin_leaving();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    held_.clear();
  }
  wake_.notify_all();
  if (lease_thread_.joinable()) lease_thread_.join();
  if (watchdog_thread_.joinable()) watchdog_thread_.join();
  // The sessions are closed: their leases go now, so the others take them at their next claim instead
  // of waiting out the TTL.
  Status released = leases_->release(options_.node_id);
  Status forgot = leases_->set_leaving(options_.node_id, incarnation_, true);
  if (!released || !forgot) {
    logger_.warn("Cluster node could not hand its sessions over: they move once their leases expire",
                 {{"error.message", (!released ? released : forgot).error().message}});
  } else {
    logger_.info("Cluster node left: sessions handed over", {{"cluster.node_id", options_.node_id}});
  }
  metrics_->owned.set(0);
}

std::vector<std::string> ClusterNode::live_node_ids() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  if (fenced_) return out;
  for (const NodeRow& n : live_nodes_) out.push_back(n.node_id);
  if (!leaving_ && std::find(out.begin(), out.end(), options_.node_id) == out.end()) out.push_back(options_.node_id);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t ClusterNode::held_count() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

void ClusterNode::lease_loop() {
  auto next_renew = Steady::now() + options_.renew_interval;
  auto next_claim = Steady::now();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_until(lock, std::min(next_renew, next_claim), [&] { return stopping_; });
      if (stopping_) return;
    }
    const auto now = Steady::now();
    if (now >= next_renew) {
      next_renew = now + options_.renew_interval;
      renew_once();
    }
    if (now >= next_claim) {
      next_claim = now + options_.claim_interval;
      bool leaving = false;
      {
        std::lock_guard lock(mu_);
        leaving = leaving_ || fenced_;
      }
      if (!leaving) claim_once();
    }
  }
}

void ClusterNode::renew_once() {
  const auto started = Steady::now();
  std::size_t held = 0;
  // Only a lease held before the statement ran can be missing from its answer for being lost: one taken
  // while it ran (a new session's) may simply have committed after its snapshot.
  std::map<std::string, std::int64_t, std::less<>> before;
  {
    std::lock_guard lock(mu_);
    held = held_.size();
    before = held_;
  }
  Result<RenewOutcome> out = leases_->renew(options_.node_id, incarnation_, static_cast<std::int64_t>(held));
  const double took = std::chrono::duration<double>(Steady::now() - started).count();
  if (!out) {
    metrics_->renew_failures.inc();
    logger_.warn("Lease renewal failed", {{"cluster.node_id", options_.node_id}, {"error.message", out.error().message}});
    return;
  }
  metrics_->renew_seconds.observe(took);
  if (!out->registered) {
    // Another incarnation took this id, or the row was removed: nothing here is ours any more.
    fence_all("this node's registration is gone");
    Status again = leases_->register_node(options_.node_id, incarnation_, options_.advertise_url);
    if (!again) logger_.error("Cluster node could not register again", {{"error.message", again.error().message}});
    return;
  }
  std::vector<std::string> lost;
  std::vector<HeldLease> reopen;
  bool was_fenced = false;
  {
    std::lock_guard lock(mu_);
    was_fenced = fenced_;
    renewed_at_ = started;
    fenced_ = false;
    live_nodes_ = out->live_nodes;
    std::map<std::string, std::int64_t, std::less<>> renewed;
    for (const HeldLease& l : out->renewed) renewed.emplace(l.session_id, l.epoch);
    for (auto it = held_.begin(); it != held_.end();) {
      auto r = renewed.find(it->first);
      auto was = before.find(it->first);
      const bool held_throughout = was != before.end() && was->second == it->second;
      if (held_throughout && acquiring_.count(it->first) == 0 && (r == renewed.end() || r->second != it->second)) {
        lost.push_back(it->first);
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
    if (!leaving_) {
      for (const auto& [id, epoch] : renewed) {
        if (held_.count(id) == 0 && acquiring_.count(id) == 0) reopen.push_back({id, epoch});
      }
    }
    metrics_->nodes.set(static_cast<double>(live_nodes_.size()));
  }
  for (const std::string& id : lost) {
    metrics_->fenced.inc();
    if (hooks_.give_up) hooks_.give_up(id, "the session's lease went to another node");
  }
  if (!lost.empty()) {
    logger_.error("Sessions given up: their leases are no longer this node's",
                  {{"cluster.node_id", options_.node_id}, {"sessions.count", static_cast<std::int64_t>(lost.size())}});
  }
  // Leases still ours whose sessions are not open here (closed by the fence while the database was
  // away, and still valid when it came back): open them again.
  for (const HeldLease& l : reopen) adopt_one(l.session_id, l.epoch);
  if (was_fenced) logger_.info("Lease renewal works again", {{"cluster.node_id", options_.node_id}});
  metrics_->owned.set(static_cast<double>(held_count()));
}

void ClusterNode::claim_once() {
  Result<std::vector<ClaimedLease>> claimed = leases_->claim(options_.node_id);
  if (!claimed) {
    logger_.warn("Lease claim failed", {{"cluster.node_id", options_.node_id}, {"error.message", claimed.error().message}});
    return;
  }
  if (claimed->empty()) return;
  int adopted = 0;
  const auto now = Steady::now();
  for (const ClaimedLease& l : *claimed) {
    (l.handed_over ? metrics_->takeovers_handover : metrics_->takeovers_expired).inc();
    {
      // The takeover's duration ends when the session answers again (resumed()).
      std::lock_guard lock(mu_);
      orphaned_since_[l.session_id] =
          now - std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(l.orphaned_seconds));
    }
    if (adopt_one(l.session_id, l.epoch)) ++adopted;
  }
  logger_.info("Sessions taken over", {{"cluster.node_id", options_.node_id},
                                       {"sessions.count", static_cast<std::int64_t>(claimed->size())},
                                       {"sessions.adopted", adopted}});
  metrics_->owned.set(static_cast<double>(held_count()));
}

bool ClusterNode::adopt_one(const std::string& session_id, std::int64_t epoch) {
  {
    std::lock_guard lock(mu_);
    // Held already (a new session that committed after a renewal's snapshot): it is live, leave it be.
    if (held_.count(session_id) != 0 || acquiring_.count(session_id) != 0) return false;
    held_[session_id] = epoch;  // before the manager may write the record
    adopting_.insert(session_id);  // locate() answers `moving` until the manager has it
  }
  Result<store::SessionRecord> record = hooks_.find_record ? hooks_.find_record(session_id)
                                                           : Result<store::SessionRecord>(Error(Errc::not_found, "no store"));
  const bool adopted = record && hooks_.adopt && hooks_.adopt(std::move(*record));
  {
    std::lock_guard lock(mu_);
    adopting_.erase(session_id);
  }
  if (adopted) return true;
  {
    std::lock_guard lock(mu_);
    orphaned_since_.erase(session_id);
  }
  if (!record && record.error().code != Errc::not_found) {
    logger_.warn("Session could not be taken over", {{"session_id", session_id}, {"error.message", record.error().message}});
  }
  // Gone meanwhile (its lease goes with its record), or not adoptable now: the lease stays ours until
  // its expiry, then another claim picks it up.
  std::lock_guard lock(mu_);
  held_.erase(session_id);
  return false;
}

void ClusterNode::watchdog_loop() {
  const auto fence_after = options_.lease_ttl - options_.fence_margin;
  for (;;) {
    bool due = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; });
      if (stopping_) return;
      due = !fenced_ && Steady::now() >= renewed_at_ + fence_after;
      if (due) fenced_ = true;
    }
    if (due) fence_all("its leases could not be renewed for " + std::to_string(fence_after.count()) + " ms");
  }
}

void ClusterNode::fence_all(const std::string& why) {
  std::map<std::string, std::int64_t, std::less<>> gone;
  {
    std::lock_guard lock(mu_);
    gone.swap(held_);
  }
  for (const auto& [id, epoch] : gone) {
    metrics_->fenced.inc();
    if (hooks_.give_up) hooks_.give_up(id, "this node fenced itself: " + why);
  }
  metrics_->owned.set(0);
  logger_.error("Cluster node fenced itself: its sessions are closed",
                {{"cluster.node_id", options_.node_id}, {"sessions.count", static_cast<std::int64_t>(gone.size())},
                 {"error.message", why}});
}

asio::awaitable<SessionLocator::Location> ClusterNode::locate(std::string session_id) {
  {
    std::lock_guard lock(mu_);
    if (adopting_.count(session_id) != 0) co_return Location{Where::moving, {}};
    if (held_.count(session_id) != 0) co_return Location{Where::here, {}};
  }
  auto job = [leases = leases_.get(), id = session_id] { return leases->locate(id); };
  asio::awaitable<Result<std::optional<LeaseStore::Location>>> asking = session::blocking_call(&pool_, std::move(job));
  Result<std::optional<LeaseStore::Location>> found = co_await std::move(asking);
  if (!found || !*found) co_return Location{Where::here, {}};
  const LeaseStore::Location& l = **found;
  if (!l.valid) co_return Location{Where::moving, {}};
  // Our lease, but not a session held here: being let go, or opened again at the next renewal.
  if (l.owner == options_.node_id) co_return Location{Where::moving, {}};
  co_return Location{Where::elsewhere, NodeAddress{l.owner, l.url}};
}

std::optional<NodeAddress> ClusterNode::placement() {
  std::lock_guard lock(mu_);
  if (leaving_) {
    // A leaving node starts nothing new: any live node will do.
    for (const NodeRow& n : live_nodes_) {
      if (n.node_id != options_.node_id) return NodeAddress{n.node_id, n.url};
    }
    return std::nullopt;
  }
  const auto mine = static_cast<std::int64_t>(held_.size() + acquiring_.size());
  NodeRow* best = nullptr;
  for (NodeRow& n : live_nodes_) {
    if (n.node_id == options_.node_id) continue;
    if (best == nullptr || n.sessions < best->sessions) best = &n;
  }
  if (best == nullptr || best->sessions + 1 >= mine) return std::nullopt;
  // The counts are as of the last renewal: count what this node sends there meanwhile, so a burst of
  // logins is spread instead of all going to the node that looked emptiest a moment ago.
  ++best->sessions;
  return NodeAddress{best->node_id, best->url};
}

asio::awaitable<Result<std::vector<NodeAddress>>> ClusterNode::peers() {
  auto job = [leases = leases_.get()] { return leases->live_nodes(); };
  asio::awaitable<Result<std::vector<NodeRow>>> asking = session::blocking_call(&pool_, std::move(job));
  Result<std::vector<NodeRow>> rows = co_await std::move(asking);
  if (!rows) co_return Error(Errc::unavailable, "the live nodes could not be read: " + rows.error().message);
  std::vector<NodeAddress> out;
  for (const NodeRow& n : *rows) {
    if (n.node_id != options_.node_id) out.push_back(NodeAddress{n.node_id, n.url});
  }
  co_return out;
}

std::optional<std::int64_t> ClusterNode::epoch_of(std::string_view session_id) const {
  std::lock_guard lock(mu_);
  auto it = held_.find(session_id);
  if (it == held_.end()) return std::nullopt;
  return it->second;
}

Status ClusterNode::acquire_new(const std::string& session_id) {
  {
    std::lock_guard lock(mu_);
    if (leaving_ || fenced_) return Error(Errc::unavailable, "this node is leaving or cannot reach the database");
    acquiring_.insert(session_id);
  }
  Result<std::int64_t> epoch = leases_->acquire_new(session_id, options_.node_id);
  std::lock_guard lock(mu_);
  acquiring_.erase(session_id);
  if (!epoch) return epoch.error();
  held_[session_id] = *epoch;
  return {};
}

void ClusterNode::resumed(const std::string& session_id) {
  std::optional<Steady::time_point> since;
  {
    std::lock_guard lock(mu_);
    auto it = orphaned_since_.find(session_id);
    if (it == orphaned_since_.end()) return;  // not a takeover (a reopening after a fence)
    since = it->second;
    orphaned_since_.erase(it);
  }
  metrics_->takeover_seconds.observe(std::chrono::duration<double>(Steady::now() - *since).count());
}

bool ClusterNode::holds(std::string_view session_id) const {
  std::lock_guard lock(mu_);
  return held_.count(session_id) != 0;
}

void ClusterNode::left(const std::string& session_id, bool removed) {
  std::lock_guard lock(mu_);
  // A removed session's lease went with its record. One closed because the node is leaving stays held
  // until finish_leaving() releases it: the last writes of its record (last_used_at) still carry it.
  if (removed || !leaving_) held_.erase(session_id);
  orphaned_since_.erase(session_id);
  metrics_->owned.set(static_cast<double>(held_.size()));
}

}  // namespace tgpulse::cluster
