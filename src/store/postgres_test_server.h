// PostgresTestServer (tests only): a real PostgreSQL 15 started in a temporary directory for the
// PostgreSQL store's tests, and stopped and removed with it.
//
// start() runs Debian's initdb and pg_ctl (/usr/lib/postgresql/15/bin, from postgresql-15; missing:
// an error saying to run scripts/install-deps.sh) — as `nobody` when the tests run as root, since
// PostgreSQL refuses to run as root — with password (SCRAM) authentication for TCP, listening on
// 127.0.0.1 only, on a free port, its unix socket inside the directory, fsync off. create_database()
// gives each test a database of its own, so tests do not see each other's rows.
//
// PostgresTestEnvironment starts one server for a whole test binary (gtest runs its SetUp before the
// first test and its TearDown after the last, also when tests failed); shared() is that server. A
// binary using it runs as one CTest test (tgpulse_test ONE_PROCESS), so the server starts once.
//
// Thread-safety: start/stop on one thread; create_database() is serialised internally.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>

#include "core/result.h"
#include "store/postgres_options.h"

namespace tgpulse::store {

class PostgresTestServer {
 public:
  static constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";

  static Result<std::unique_ptr<PostgresTestServer>> start();
  ~PostgresTestServer();  // pg_ctl stop -m immediate, then removes the directory
  PostgresTestServer(const PostgresTestServer&) = delete;
  PostgresTestServer& operator=(const PostgresTestServer&) = delete;

  // The server of this binary's PostgresTestEnvironment; nullptr when it did not start.
  static PostgresTestServer* shared();
  // Why the shared server did not start ("" when it did).
  static const std::string& shared_failure();

  // A new, empty database and the options reaching it (store.url without the password, the password).
  Result<PostgresOptions> create_database();
  // The options of the server's default database "postgres" (as the superuser).
  PostgresOptions admin_options() const;
  int port() const noexcept { return port_; }
  const std::string& password() const noexcept { return password_; }
  const std::string& directory() const noexcept { return dir_; }

 private:
  PostgresTestServer() = default;
  Status stop();

  std::string dir_;       // the temporary directory: data/, the log, the socket
  std::string run_as_;    // "runuser -u nobody -- " when running as root, else ""
  std::string password_;  // the superuser's (random per server)
  int port_ = 0;
  bool running_ = false;
  std::mutex mu_;
  int databases_ = 0;  // guarded by mu_
};

class PostgresTestEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
};

}  // namespace tgpulse::store
