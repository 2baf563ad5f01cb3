#include "store/postgres_connection_pool.h"

#include <libpq-fe.h>

#include <pqxx/pqxx>

#if defined(__SANITIZE_ADDRESS__)
#define TGPULSE_LSAN_PQXX 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TGPULSE_LSAN_PQXX 1
#endif
#endif
#ifdef TGPULSE_LSAN_PQXX
// LeakSanitizer's suppressions for what it finds inside the libraries rather than in tgpulse: Debian's
// libpqxx 6.4 leaves the PGresult of a PQprepare unreleased on one of its paths in
// connection_base::register_prepared (two allocations, ~2 KiB, seen in the PostgreSQL store tests under
// ASan; nothing of tgpulse's own on the stack). Read by LSan at exit when this object is linked in.
extern "C" const char* __lsan_default_suppressions() {  // NOLINT: the name LSan looks for
  return "leak:pqxx::connection_base::register_prepared\n";
}
#endif

namespace tgpulse::store {
namespace {

// A conninfo value in single quotes, with \ and ' escaped (libpq's keyword=value syntax).
std::string quoted(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

bool has_scheme(const std::string& url) { return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0; }

}  // namespace

Result<std::string> postgres_conninfo(const PostgresOptions& options) {
  if (!has_scheme(options.url)) {
    return Error(Errc::invalid_argument, "store.url: must start with postgresql:// (e.g. postgresql://tgpulse@db:5432/tgpulse)");
  }
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.url.c_str(), &error);
  if (parsed == nullptr) {
    // libpq's message names the part it could not read; it may quote the URL, so it is not passed on.
    PQfreemem(error);
    return Error(Errc::invalid_argument, "store.url: is not a valid postgresql:// URL");
  }
  std::string conninfo;
  bool inline_password = false;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || o->val[0] == '\0') continue;
    const std::string keyword = o->keyword;
    if (keyword == "password") {
      inline_password = true;
      continue;
    }
    conninfo += keyword + "=" + quoted(o->val) + " ";
  }
  PQconninfoFree(parsed);
  if (inline_password) {
    return Error(Errc::invalid_argument,
                 "store.url: carries a password; give it in store.url_password_file or TGPULSE_STORE_PASSWORD "
                 "instead, so it stays out of the configuration and the logs");
  }
  if (!options.password.empty()) conninfo += "password=" + quoted(options.password) + " ";
  const long long connect_s = std::max<long long>(2, (options.connect_timeout.count() + 999) / 1000);
  conninfo += "connect_timeout=" + std::to_string(connect_s) + " ";
  conninfo += "options=" + quoted("-c statement_timeout=" + std::to_string(options.statement_timeout.count())) + " ";
  conninfo += "application_name=tgpulse";
  return conninfo;
}

std::string postgres_description(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &error);
  if (parsed == nullptr) {
    PQfreemem(error);
    return "postgresql://(unparsable URL)";
  }
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string keyword = o->keyword;
    if (keyword == "user") user = o->val;
    if (keyword == "host") host = o->val;
    if (keyword == "port") port = o->val;
    if (keyword == "dbname") dbname = o->val;
  }
  PQconninfoFree(parsed);
  return "postgresql://" + (user.empty() ? "" : user + "@") + host + (port.empty() ? "" : ":" + port) + "/" + dbname;
}

std::string postgres_reason(const std::exception& e) {
  std::string what = e.what();
  if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
  if (what.rfind("ERROR:  ", 0) == 0) what.erase(0, 8);
  return what;
}

PostgresConnectionPool::PostgresConnectionPool(std::string conninfo, std::string description,
                                               std::vector<PreparedSql> statements,
                                               std::chrono::milliseconds acquire_timeout)
    : conninfo_(std::move(conninfo)),
      description_(std::move(description)),
      statements_(std::move(statements)),
      acquire_timeout_(acquire_timeout) {}

PostgresConnectionPool::~PostgresConnectionPool() = default;

Result<std::unique_ptr<PostgresConnectionPool>> PostgresConnectionPool::open(const PostgresOptions& options,
                                                                             std::vector<PreparedSql> statements) {
  if (options.pool_size < 1) return Error(Errc::invalid_argument, "store.pg_pool_size: must be at least 1");
  auto conninfo = postgres_conninfo(options);
  if (!conninfo) return conninfo.error();
  std::unique_ptr<PostgresConnectionPool> pool(new PostgresConnectionPool(
      std::move(*conninfo), postgres_description(options.url), std::move(statements), options.acquire_timeout));
  pool->slots_.resize(static_cast<std::size_t>(options.pool_size));
  pool->broken_.assign(pool->slots_.size(), false);
  for (Slot& slot : pool->slots_) {
    auto connection = pool->connect();
    if (!connection) return connection.error();
    slot.connection = std::move(*connection);
  }
  return pool;
}

Result<std::unique_ptr<pqxx::connection>> PostgresConnectionPool::connect() const {
  try {
    auto connection = std::make_unique<pqxx::connection>(conninfo_);
    for (const PreparedSql& s : statements_) connection->prepare(s.name, s.sql);
    return connection;
  } catch (const std::exception& e) {
    return Error(Errc::store_error, "connect to " + description_ + ": " + postgres_reason(e));
  }
}

Result<PostgresConnectionPool::Lease> PostgresConnectionPool::acquire(const char* operation) {
  std::unique_lock lock(mu_);
  std::size_t index = slots_.size();
  const bool got = freed_.wait_for(lock, acquire_timeout_, [&] {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].lent) {
        index = i;
        return true;
      }
    }
    return false;
  });
  if (!got) {
    return Error(Errc::store_error, std::string(operation) + ": no connection to " + description_ + " was free within " +
                                        std::to_string(acquire_timeout_.count()) + " ms");
  }
  Slot& slot = slots_[index];
  slot.lent = true;
  if (slot.connection && !broken_[index]) return Lease(this, index);
  lock.unlock();  // reconnecting takes a round trip or more; the slot is ours meanwhile
  auto connection = connect();
  lock.lock();
  if (!connection) {
    slot.lent = false;
    freed_.notify_one();
    return Error(Errc::store_error, std::string(operation) + ": " + connection.error().message);
  }
  slot.connection = std::move(*connection);
  broken_[index] = false;
  return Lease(this, index);
}

void PostgresConnectionPool::give_back(std::size_t index, bool broken) {
  {
    std::lock_guard lock(mu_);
    slots_[index].lent = false;
    if (broken) broken_[index] = true;
  }
  freed_.notify_one();
}

PostgresConnectionPool::Lease::~Lease() {
  if (pool_ == nullptr) return;
  bool broken = false;
  {
    std::lock_guard lock(pool_->mu_);
    broken = pool_->broken_[index_];
  }
  // A connection that closed under us (the server went away) is replaced too.
  broken = broken || !pool_->slots_[index_].connection->is_open();
  pool_->give_back(index_, broken);
}

pqxx::connection& PostgresConnectionPool::Lease::connection() const { return *pool_->slots_[index_].connection; }

void PostgresConnectionPool::Lease::mark_broken() const {
  std::lock_guard lock(pool_->mu_);
  pool_->broken_[index_] = true;
}

}  // namespace tgpulse::store
