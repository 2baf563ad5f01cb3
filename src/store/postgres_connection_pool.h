// PostgresConnectionPool: a fixed number of libpqxx connections to one database, each with the store's
// prepared statements, lent to one caller at a time.
//
// open() connects every connection (a bad URL, a refused login or an unreachable server fails there,
// with libpq's reason and never the password) and prepares the given statements on each. A call takes a
// connection with acquire() — waiting at most PostgresOptions::acquire_timeout when all are lent — and
// gives it back when its Lease goes. A connection that broke (the server restarted, the network
// dropped) is noticed by its Lease (mark_broken(), or pqxx::broken_connection caught by the caller) and
// reconnected at its next acquire(), so the pool heals without a restart of the service.
//
// Secrets: the password is given to libpq as its own conninfo keyword, never in a URL; describe() names
// the server as "postgresql://user@host:port/dbname" without it, and no message here contains it.
//
// Thread-safety: thread-safe. A Lease is confined to the thread that acquired it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "store/postgres_options.h"

#include <pqxx/connection>
#include <pqxx/except>

namespace tgpulse::store {

// A statement every connection prepares under `name`.
struct PreparedSql {
  std::string name;
  std::string sql;
};

// libpq's URI turned into a keyword=value conninfo with the password added as its own keyword. Refuses
// (invalid_argument) a URL that is not postgresql:// or postgres://, does not parse, or carries a
// password. The message never contains the URL's query values or the password.
Result<std::string> postgres_conninfo(const PostgresOptions& options);
// "postgresql://user@host:port/dbname" for logs and errors (no password, no parameters).
std::string postgres_description(const std::string& url);

// The first line of a libpq/libpqxx error: the server's primary message (e.g. "duplicate key value
// violates unique constraint ..."), without DETAIL lines, which can quote a row's values (a db_key).
std::string postgres_reason(const std::exception& e);

class PostgresConnectionPool {
 public:
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), index_(other.index_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& connection() const;
    // The connection failed under this lease: it is reconnected before it is lent again.
    void mark_broken() const;

   private:
    friend class PostgresConnectionPool;
    Lease(PostgresConnectionPool* pool, std::size_t index) : pool_(pool), index_(index) {}
    PostgresConnectionPool* pool_;
    std::size_t index_;
  };

  static Result<std::unique_ptr<PostgresConnectionPool>> open(const PostgresOptions& options,
                                                              std::vector<PreparedSql> statements);
  ~PostgresConnectionPool();
  PostgresConnectionPool(const PostgresConnectionPool&) = delete;
  PostgresConnectionPool& operator=(const PostgresConnectionPool&) = delete;

  // A connection for one call. store_error when none was free within acquire_timeout, or a broken one
  // could not be reconnected (`operation` names the call).
  Result<Lease> acquire(const char* operation);
  // Runs body(pqxx::connection&) -> Result<T> on an acquired connection. A libpqxx exception becomes
  // store_error "<operation>: <the server's reason>" (postgres_reason: no row values); a broken
  // connection is marked for reconnection.
  template <typename T, typename Body>
  Result<T> call(const char* operation, Body&& body);
  const std::string& description() const noexcept { return description_; }
  std::size_t size() const noexcept { return slots_.size(); }

 private:
  struct Slot {
    std::unique_ptr<pqxx::connection> connection;  // null while broken
    bool lent = false;
  };
  PostgresConnectionPool(std::string conninfo, std::string description, std::vector<PreparedSql> statements,
                         std::chrono::milliseconds acquire_timeout);
  Result<std::unique_ptr<pqxx::connection>> connect() const;
  void give_back(std::size_t index, bool broken);

  const std::string conninfo_;  // holds the password: never logged
  const std::string description_;
  const std::vector<PreparedSql> statements_;
  const std::chrono::milliseconds acquire_timeout_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<Slot> slots_;  // fixed size after open(); guarded by mu_ (a lent slot's connection: by its lease)
  std::vector<bool> broken_;  // set by mark_broken(); guarded by mu_
};

template <typename T, typename Body>
Result<T> PostgresConnectionPool::call(const char* operation, Body&& body) {
  // A connection the server dropped while it sat in the pool (a restart, a failover, an idle timeout)
  // fails on its first use: the call is made once more on a new connection, so one server restart does
  // not fail one request per pooled connection. Every store call is safe to repeat — a read, an
  // idempotent write (GREATEST, ON CONFLICT) or a compare-and-set that answers conflict when its first
  // attempt did land.
  for (int attempt = 1;; ++attempt) {
  auto lease = acquire(operation);
  if (!lease) return lease.error();
  try {
    return body(lease->connection());
  } catch (const pqxx::broken_connection& e) {
    lease->mark_broken();
    if (attempt == 1) continue;
    return Error(Errc::store_error, std::string(operation) + ": connection to " + description_ +
                                        " lost: " + postgres_reason(e));
  } catch (const pqxx::in_doubt_error& e) {
    lease->mark_broken();
    return Error(Errc::store_error, std::string(operation) + ": the commit's outcome is unknown (connection lost): " +
                                        postgres_reason(e));
  } catch (const std::exception& e) {
    return Error(Errc::store_error, std::string(operation) + ": " + postgres_reason(e));
  }
  }
}


}  // namespace tgpulse::store
