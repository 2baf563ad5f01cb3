#include "cluster/lease_store.h"

#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/row>
#include <pqxx/transaction>

namespace tgpulse::cluster {

namespace {

// $-parameters named once: the lease TTL in seconds is a double (make_interval's secs).
std::vector<store::PreparedSql> lease_statements() {
  return {
      {"node_check",
       "SELECT incarnation, extract(epoch FROM heartbeat_at + make_interval(secs => $2) - clock_timestamp())"
       " FROM cluster_nodes WHERE node_id = $1 FOR UPDATE"},
      {"node_register",
       "INSERT INTO cluster_nodes (node_id, incarnation, url, started_at, heartbeat_at, sessions, leaving)"
       " VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp(), 0, false)"
       " ON CONFLICT (node_id) DO UPDATE SET incarnation = excluded.incarnation, url = excluded.url,"
       " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, sessions = 0, leaving = false"},
      // An earlier incarnation of this id is dead (checked above): whatever it held is free now.
      {"node_expire_old", "UPDATE session_leases SET lease_until = LEAST(lease_until, clock_timestamp()) WHERE owner_node = $1"},
      // Sessions created before the cluster was turned on get an expired lease, so some node claims them.
      // A minute of age keeps a session another node is creating this instant (record first, lease
      // next) out of it.
      {"lease_backfill",
       "INSERT INTO session_leases (session_id, owner_node, lease_until, epoch)"
       " SELECT s.session_id, '', '-infinity', 0 FROM sessions s"
       " WHERE s.created_at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 60000"
       " ON CONFLICT (session_id) DO NOTHING"},
      {"renew",
       "WITH hb AS (UPDATE cluster_nodes SET heartbeat_at = clock_timestamp(), sessions = $3"
       "            WHERE node_id = $1 AND incarnation = $2 RETURNING node_id),"
       " renewed AS (UPDATE session_leases SET lease_until = clock_timestamp() + make_interval(secs => $4), released = false"
       "            WHERE owner_node = $1 AND lease_until > clock_timestamp() AND EXISTS (SELECT 1 FROM hb)"
       "            RETURNING session_id, epoch)"
       " SELECT 'h', node_id, 0::bigint, ''::text FROM hb"
       " UNION ALL SELECT 'r', session_id, epoch, '' FROM renewed"
       " UNION ALL SELECT 'n', node_id, sessions::bigint, url FROM cluster_nodes"
       "   WHERE heartbeat_at > clock_timestamp() - make_interval(secs => $4) AND NOT leaving"},
      {"claim",
       "WITH live AS (SELECT greatest(count(*), 1) AS n FROM cluster_nodes"
       "              WHERE heartbeat_at > clock_timestamp() - make_interval(secs => $2) AND NOT leaving),"
       " total AS (SELECT count(*) AS n FROM session_leases),"
       " mine AS (SELECT count(*) AS n FROM session_leases WHERE owner_node = $1 AND lease_until > clock_timestamp()),"
       " picked AS (SELECT session_id FROM session_leases WHERE lease_until <= clock_timestamp()"
       "            ORDER BY lease_until, session_id"
       "            LIMIT (SELECT greatest(ceil(total.n::numeric / live.n) - mine.n, 0) FROM live, total, mine)"
       "            FOR UPDATE SKIP LOCKED)"
       " UPDATE session_leases l SET owner_node = $1, epoch = l.epoch + 1,"
       "   lease_until = clock_timestamp() + make_interval(secs => $2),"
       "   previous_owner = l.owner_node, orphaned_at = l.lease_until"
       " FROM picked WHERE l.session_id = picked.session_id"
       " RETURNING l.session_id, l.epoch, l.released,"
       "   extract(epoch FROM clock_timestamp() - LEAST(l.orphaned_at,"
       "     COALESCE((SELECT n.heartbeat_at FROM cluster_nodes n WHERE n.node_id = l.previous_owner), l.orphaned_at)))"},
      {"acquire_new",
       "INSERT INTO session_leases (session_id, owner_node, lease_until, epoch)"
       " VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3), 1)"
       " ON CONFLICT (session_id) DO NOTHING RETURNING epoch"},
      {"locate",
       "SELECT l.owner_node, COALESCE(n.url, ''), l.lease_until > clock_timestamp() AND n.node_id IS NOT NULL"
       " FROM session_leases l LEFT JOIN cluster_nodes n ON n.node_id = l.owner_node WHERE l.session_id = $1"},
      {"release",
       "UPDATE session_leases SET lease_until = clock_timestamp(), released = true"
       " WHERE owner_node = $1 AND lease_until > clock_timestamp()"},
      {"live_nodes",
       "SELECT node_id, url, sessions::bigint FROM cluster_nodes"
       " WHERE heartbeat_at > clock_timestamp() - make_interval(secs => $1) AND NOT leaving ORDER BY node_id"},
      {"node_leaving", "UPDATE cluster_nodes SET leaving = true WHERE node_id = $1 AND incarnation = $2"},
      {"node_forget", "DELETE FROM cluster_nodes WHERE node_id = $1 AND incarnation = $2"},
  };
}

}  // namespace

Result<std::unique_ptr<LeaseStore>> LeaseStore::open(store::PostgresOptions options, std::chrono::milliseconds ttl) {
  options.pool_size = 2;
  // A renewal must fail fast enough to be retried before the fence, not hang on a dead server.
  options.acquire_timeout = std::min(options.acquire_timeout, ttl / 3);
  options.statement_timeout = ttl / 3;
  options.connect_timeout = std::chrono::milliseconds(2'000);  // libpq's smallest
  auto pool = store::PostgresConnectionPool::open(options, lease_statements());
  if (!pool) return Error(pool.error().code, "cluster leases: " + pool.error().message);
  return std::unique_ptr<LeaseStore>(new LeaseStore(std::move(*pool), ttl));
}

Status LeaseStore::register_node(const std::string& node_id, std::int64_t incarnation, const std::string& url) {
  return pool_->call<void>("register cluster node", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    pqxx::result held = tx.exec_prepared("node_check", node_id, ttl_seconds());
    if (!held.empty() && held[0][0].as<std::int64_t>() != incarnation) {
      const double left = held[0][1].as<double>();
      if (left > 0) {
        return Error(Errc::conflict, "cluster.node_id " + node_id + " is held by a live node (its heartbeat is " +
                                         "recent); it is free in " + std::to_string(static_cast<int>(left + 1)) +
                                         " s if that node is gone");
      }
    }
    tx.exec_prepared("node_register", node_id, incarnation, url);
    tx.exec_prepared("node_expire_old", node_id);
    tx.exec_prepared("lease_backfill");
    tx.commit();
    return {};
  });
}

Result<RenewOutcome> LeaseStore::renew(const std::string& node_id, std::int64_t incarnation, std::int64_t sessions) {
  return pool_->call<RenewOutcome>("renew leases", [&](pqxx::connection& c) -> Result<RenewOutcome> {
    pqxx::nontransaction tx(c);
    RenewOutcome out;
    for (const pqxx::row& r : tx.exec_prepared("renew", node_id, incarnation, sessions, ttl_seconds())) {
      const std::string kind = r[0].as<std::string>();
      if (kind == "h") {
        out.registered = true;
      } else if (kind == "r") {
        out.renewed.push_back({r[1].as<std::string>(), r[2].as<std::int64_t>()});
      } else {
        out.live_nodes.push_back({r[1].as<std::string>(), r[3].as<std::string>(), r[2].as<std::int64_t>()});
      }
    }
    return out;
  });
}

Result<std::vector<ClaimedLease>> LeaseStore::claim(const std::string& node_id) {
  return pool_->call<std::vector<ClaimedLease>>("claim leases", [&](pqxx::connection& c)
                                                                      -> Result<std::vector<ClaimedLease>> {
    pqxx::nontransaction tx(c);
    std::vector<ClaimedLease> out;
    for (const pqxx::row& r : tx.exec_prepared("claim", node_id, ttl_seconds())) {
      ClaimedLease l;
      l.session_id = r[0].as<std::string>();
      l.epoch = r[1].as<std::int64_t>();
      l.handed_over = r[2].as<bool>();
      l.orphaned_seconds = r[3].is_null() ? 0.0 : r[3].as<double>();
      out.push_back(std::move(l));
    }
    return out;
  });
}

Result<std::int64_t> LeaseStore::acquire_new(const std::string& session_id, const std::string& node_id) {
  return pool_->call<std::int64_t>("acquire lease", [&](pqxx::connection& c) -> Result<std::int64_t> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("acquire_new", session_id, node_id, ttl_seconds());
    if (r.empty()) return Error(Errc::conflict, "session " + session_id + " already has a lease");
    return r[0][0].as<std::int64_t>();
  });
}

Result<std::optional<LeaseStore::Location>> LeaseStore::locate(const std::string& session_id) {
  return pool_->call<std::optional<Location>>("locate session", [&](pqxx::connection& c)
                                                                    -> Result<std::optional<Location>> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("locate", session_id);
    if (r.empty()) return std::optional<Location>();
    return std::optional<Location>(Location{r[0][2].as<bool>(), r[0][0].as<std::string>(), r[0][1].as<std::string>()});
  });
}

Status LeaseStore::release(const std::string& node_id) {
  return pool_->call<void>("release leases", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    tx.exec_prepared("release", node_id);
    return {};
  });
}

Result<std::vector<NodeRow>> LeaseStore::live_nodes() {
  return pool_->call<std::vector<NodeRow>>("list live nodes", [&](pqxx::connection& c) -> Result<std::vector<NodeRow>> {
    pqxx::nontransaction tx(c);
    std::vector<NodeRow> out;
    for (const pqxx::row& r : tx.exec_prepared("live_nodes", ttl_seconds())) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::int64_t>()});
    }
    return out;
  });
}

Status LeaseStore::set_leaving(const std::string& node_id, std::int64_t incarnation, bool forget) {
  return pool_->call<void>("leave cluster", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    tx.exec_prepared(forget ? "node_forget" : "node_leaving", node_id, incarnation);
    return {};
  });
}

}  // namespace tgpulse::cluster
