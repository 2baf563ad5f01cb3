#include "store/postgres_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <pqxx/pqxx>

#include "store/postgres_connection_pool.h"

namespace tgpulse::store {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<PostgresTestServer>& shared_server() {
  static std::unique_ptr<PostgresTestServer> server;
  return server;
}

std::string& shared_failure_text() {
  static std::string text;
  return text;
}

// gtest owns the environments it is given (its API takes a raw pointer).
[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new PostgresTestEnvironment);

// Runs a shell command; returns its exit status and combined output.
std::pair<int, std::string> run(const std::string& command) {
  std::string output;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) output.append(buf.data(), n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string random_password() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 24; ++i) out += kChars[rd() % (sizeof kChars - 1)];
  return out;
}

}  // namespace

Result<std::unique_ptr<PostgresTestServer>> PostgresTestServer::start() {
  const std::string bin = kBinDir;
  if (!fs::exists(bin + "/initdb") || !fs::exists(bin + "/pg_ctl")) {
    return Error(Errc::unavailable, "PostgreSQL 15 is not installed (no " + bin +
                                        "/initdb): run scripts/install-deps.sh, which installs Debian's postgresql-15");
  }
  std::unique_ptr<PostgresTestServer> server(new PostgresTestServer());
  std::string templ = (fs::temp_directory_path() / "tgpulse-pg-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) return Error(Errc::internal, "mkdtemp failed");
  server->dir_ = templ;
  server->password_ = random_password();
  const std::string pwfile = server->dir_ + "/pwfile";
  std::ofstream(pwfile) << server->password_ << "\n";
  if (::geteuid() == 0) {  // initdb and postgres refuse to run as root
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) return Error(Errc::internal, "running as root and there is no user nobody to run PostgreSQL as");
    for (const std::string& p : {server->dir_, pwfile}) {
      if (::chown(p.c_str(), nobody->pw_uid, nobody->pw_gid) != 0) return Error(Errc::internal, "chown " + p + " failed");
    }
    server->run_as_ = "runuser -u nobody -- ";
  }
  const std::string data = server->dir_ + "/data";
  auto [rc, out] = run(server->run_as_ + bin + "/initdb -D " + data + " -U tgpulse --pwfile=" + pwfile +
                       " --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --no-locale -N");
  fs::remove(pwfile);
  if (rc != 0) return Error(Errc::internal, "initdb failed: " + out);
  // A free port can be taken by someone else before the server binds it: try a few.
  std::string last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    server->port_ = free_port();
    const std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(server->port_) + " -k " +
                                server->dir_ + " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
    auto [start_rc, start_out] = run(server->run_as_ + bin + "/pg_ctl -D " + data + " -l " + server->dir_ +
                                     "/postgres.log -w -t 60 -o '" + options + "' start");
    if (start_rc == 0) {
      server->running_ = true;
      return server;
    }
    std::ostringstream log;
    log << std::ifstream(server->dir_ + "/postgres.log").rdbuf();
    last = start_out + log.str();
  }
  return Error(Errc::internal, "pg_ctl start failed: " + last);
}

Status PostgresTestServer::stop() {
  if (!running_) return {};
  running_ = false;
  auto [rc, out] = run(run_as_ + std::string(kBinDir) + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop");
  if (rc != 0) return Error(Errc::internal, "pg_ctl stop failed: " + out);
  return {};
}

PostgresTestServer::~PostgresTestServer() {
  if (auto s = stop(); !s) std::fprintf(stderr, "%s\n", s.error().message.c_str());
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

PostgresTestServer* PostgresTestServer::shared() { return shared_server().get(); }

const std::string& PostgresTestServer::shared_failure() { return shared_failure_text(); }

PostgresOptions PostgresTestServer::admin_options() const {
  PostgresOptions o;
  o.url = "postgresql://tgpulse@127.0.0.1:" + std::to_string(port_) + "/postgres";
  o.password = password_;
  o.pool_size = 2;
  return o;
}

Result<PostgresOptions> PostgresTestServer::create_database() {
  std::string name;
  {
    std::lock_guard lock(mu_);
    name = "test_" + std::to_string(++databases_);
  }
  auto conninfo = postgres_conninfo(admin_options());
  if (!conninfo) return conninfo.error();
  try {
    pqxx::connection c(*conninfo);
    pqxx::nontransaction tx(c);  // CREATE DATABASE cannot run in a transaction
    tx.exec("CREATE DATABASE " + name);
  } catch (const std::exception& e) {
    return Error(Errc::store_error, "CREATE DATABASE " + name + ": " + postgres_reason(e));
  }
  PostgresOptions o = admin_options();
  o.url = "postgresql://tgpulse@127.0.0.1:" + std::to_string(port_) + "/" + name;
  return o;
}

void PostgresTestEnvironment::SetUp() {
  auto started = PostgresTestServer::start();
  if (!started) {
    shared_failure_text() = started.error().message;
    FAIL() << "the PostgreSQL store's tests need a PostgreSQL server: " << started.error().message;
  }
  shared_server() = std::move(*started);
}

void PostgresTestEnvironment::TearDown() { shared_server().reset(); }

}  // namespace tgpulse::store
