// The SQLite and the PostgreSQL session store side by side (docs/PERFORMANCE.md, "Scale-out"): the same
// SessionStore calls, the same data (10,000 sessions of 100 tenants), on 1 and 4 threads, in one binary
// and one run. SQLite: the service's defaults (WAL, synchronous=NORMAL) in a temporary directory.
// PostgreSQL: a real PostgreSQL 15 started by the bench (PostgresTestServer: 127.0.0.1, a free port,
// SCRAM over TCP, fsync and synchronous_commit off — like SQLite's NORMAL, no flush per commit) and the
// store's default pool of 4 connections. Without PostgreSQL 15 installed only the SQLite half runs.
//
// Each benchmark reports items_per_second: calls per second over all its threads (wall clock).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store/postgres_session_store.h"
#include "store/postgres_test_server.h"
#include "store/sqlite_session_store.h"
#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

namespace fs = std::filesystem;
constexpr int kTenants = 100;
constexpr int kSessionsPerTenant = 100;
constexpr std::size_t kIdBatch = 1000;  // session ids made per pause of the timer in create_session

std::string tenant_id(int t) { return "tenant-" + std::to_string(t); }

SessionRecord new_session(std::string id, int i) {
  SessionRecord s;
  s.session_id = std::move(id);
  s.tenant_id = tenant_id(i % kTenants);
  s.state = SessionState::authorized;
  s.created_at_ms = i;
  s.last_used_at_ms = i;
  s.engine_dir = "/var/lib/tgpulse/engine/" + s.session_id;
  s.db_key = TenantTokens::generate_db_key().value();
  s.page_key_hash = TenantTokens::hash_token(s.session_id);
  return s;
}

// One store filled with the same tenants and sessions, whichever backend it is.
struct Backend {
  std::unique_ptr<SessionStore> store;
  std::vector<std::string> session_ids;  // index i belongs to tenant i % kTenants
  std::vector<std::string> tokens;

  void fill() {
    for (int t = 0; t < kTenants; ++t) {
      tokens.push_back("tgp_bench_token_" + std::to_string(t));
      if (!store->create_tenant({tenant_id(t), TenantTokens::hash_token(tokens.back()), 1})) std::abort();
    }
    for (int i = 0; i < kTenants * kSessionsPerTenant; ++i) {
      SessionRecord s = new_session(TenantTokens::generate_session_id().value(), i);
      if (!store->create_session(s)) std::abort();
      session_ids.push_back(s.session_id);
    }
  }
};

FakeClock g_clock;

// The value of a set-up step, or exits naming the step and the error.
template <typename T>
T value_or_exit(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(*r);
}

void BM_GetSession(benchmark::State& state, Backend* b) {
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 1'000'003;
  for (auto _ : state) {
    const std::size_t n = (i++ * 7919) % b->session_ids.size();
    auto s = b->store->get_session(tenant_id(static_cast<int>(n % kTenants)), b->session_ids[n]);
    if (!s) state.SkipWithError("get_session failed");
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_FindTenantByToken(benchmark::State& state, Backend* b) {
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 17;
  for (auto _ : state) {
    auto t = b->store->find_tenant_by_token(b->tokens[i++ % b->tokens.size()]);
    if (!t) state.SkipWithError("find_tenant_by_token failed");
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_TouchLastUsed(benchmark::State& state, Backend* b) {
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 1'000'003;
  std::int64_t at = 1'000'000;
  for (auto _ : state) {
    ++i;
    ++at;
    auto s = b->store->touch_last_used(b->session_ids[(i * 31) % b->session_ids.size()], at);
    if (!s) state.SkipWithError("touch_last_used failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_UpdateState(benchmark::State& state, Backend* b) {
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 1'000'003;
  const SessionStateChange change{SessionState::authorized, SessionState::authorized};
  for (auto _ : state) {
    auto s = b->store->update_state(b->session_ids[(i++ * 31) % b->session_ids.size()], change);
    if (!s) state.SkipWithError("update_state failed");
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}

// New sessions only (the table grows by the iterations, ~1-5 % of its 10,000 rows per run); the ids and
// keys are made with the timer paused, kIdBatch at a time.
void BM_CreateSession(benchmark::State& state, Backend* b) {
  std::vector<SessionRecord> batch;
  std::size_t next = 0;
  int i = state.thread_index();
  for (auto _ : state) {
    if (next == batch.size()) {
      state.PauseTiming();
      batch.clear();
      for (std::size_t k = 0; k < kIdBatch; ++k) batch.push_back(new_session(TenantTokens::generate_session_id().value(), i++));
      next = 0;
      state.ResumeTiming();
    }
    if (!b->store->create_session(batch[next++])) state.SkipWithError("create_session failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void register_all(const char* name, Backend* b) {
  struct Case {
    const char* op;
    void (*fn)(benchmark::State&, Backend*);
  };
  const Case cases[] = {{"CreateSession", BM_CreateSession},       {"GetSession", BM_GetSession},
                        {"UpdateState", BM_UpdateState},           {"TouchLastUsed", BM_TouchLastUsed},
                        {"FindTenantByToken", BM_FindTenantByToken}};
  for (const Case& c : cases) {
    benchmark::RegisterBenchmark((std::string("BM_") + c.op + "_" + name).c_str(), c.fn, b)
        ->Threads(1)
        ->Threads(4)
        ->UseRealTime();
  }
}

}  // namespace
}  // namespace tgpulse::store

int main(int argc, char** argv) {
  using namespace tgpulse::store;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  std::string templ = (fs::temp_directory_path() / "tgpulse-store-backends-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) return 1;
  const fs::path dir = templ;
  Backend sqlite;
  sqlite.store = value_or_exit(SqliteSessionStore::open(SqliteStoreOptions{dir.string()}, g_clock), "sqlite");
  sqlite.fill();
  register_all("Sqlite", &sqlite);

  std::unique_ptr<PostgresTestServer> server;
  Backend postgres;
  if (auto started = PostgresTestServer::start(); !started) {
    std::fprintf(stderr, "PostgreSQL benchmarks skipped: %s\n", started.error().to_string().c_str());
  } else {
    server = std::move(*started);
    const PostgresOptions options = value_or_exit(server->create_database(), "postgres database");
    postgres.store = value_or_exit(PostgresSessionStore::open(options, nullptr, g_clock), "postgres store");
    postgres.fill();
    register_all("Postgres", &postgres);
  }

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  postgres.store.reset();
  server.reset();  // stops the server and removes its directory
  sqlite.store.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
