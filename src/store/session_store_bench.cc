// What one SessionStore call costs on the SQLite store (WAL, synchronous=NORMAL) holding 10,000
// sessions of 100 tenants — the calls the service makes on its io threads per request.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "store/sqlite_session_store.h"
#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

namespace fs = std::filesystem;
constexpr int kTenants = 100;
constexpr int kSessionsPerTenant = 100;

struct Fixture {
  FakeClock clock;
  fs::path dir;
  std::unique_ptr<SqliteSessionStore> store;
  std::vector<std::string> session_ids;  // index i belongs to tenant i % kTenants
  std::vector<std::string> tokens;

  Fixture() {
    std::string templ = (fs::temp_directory_path() / "tgpulse-store-bench-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    dir = templ;
    store = std::move(SqliteSessionStore::open(SqliteStoreOptions{dir.string()}, clock)).value();
    for (int t = 0; t < kTenants; ++t) {
      tokens.push_back("tgp_bench_token_" + std::to_string(t));
      if (!store->create_tenant({tenant_id(t), TenantTokens::hash_token(tokens.back()), 1})) std::abort();
    }
    for (int i = 0; i < kTenants * kSessionsPerTenant; ++i) {
      SessionRecord s;
      s.session_id = TenantTokens::generate_session_id().value();
      s.tenant_id = tenant_id(i % kTenants);
      s.state = SessionState::authorized;
      s.created_at_ms = i;
      s.last_used_at_ms = i;
      s.engine_dir = "/var/lib/tgpulse/engine/" + s.session_id;
      s.db_key = TenantTokens::generate_db_key().value();
      s.page_key_hash = TenantTokens::hash_token(s.session_id);
      if (!store->create_session(s)) std::abort();
      session_ids.push_back(s.session_id);
    }
  }
  ~Fixture() {
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  static std::string tenant_id(int t) { return "tenant-" + std::to_string(t); }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_SqliteGetSession(benchmark::State& state) {
  Fixture& f = fixture();
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t n = (i++ * 7919) % f.session_ids.size();
    auto s = f.store->get_session(Fixture::tenant_id(static_cast<int>(n % kTenants)), f.session_ids[n]);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_SqliteGetSession);

void BM_SqliteFindTenantByToken(benchmark::State& state) {
  Fixture& f = fixture();
  std::size_t i = 0;
  for (auto _ : state) {
    auto t = f.store->find_tenant_by_token(f.tokens[i++ % f.tokens.size()]);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_SqliteFindTenantByToken);

void BM_SqliteTouchLastUsed(benchmark::State& state) {
  Fixture& f = fixture();
  std::size_t i = 0;
  for (auto _ : state) {
    ++i;  // one step per iteration, read twice below (an i++ inside the call left the order unspecified)
    auto s = f.store->touch_last_used(f.session_ids[(i * 31) % f.session_ids.size()], static_cast<std::int64_t>(i));
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_SqliteTouchLastUsed);

void BM_SqliteUpdateState(benchmark::State& state) {
  Fixture& f = fixture();
  std::size_t i = 0;
  for (auto _ : state) {
    auto s = f.store->update_state(f.session_ids[(i++ * 31) % f.session_ids.size()],
                                   SessionStateChange{SessionState::authorized, SessionState::authorized});
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_SqliteUpdateState);

void BM_SqliteListSessionsOfTenant(benchmark::State& state) {
  Fixture& f = fixture();
  int t = 0;
  for (auto _ : state) {
    auto list = f.store->list_sessions(Fixture::tenant_id(t++ % kTenants));
    benchmark::DoNotOptimize(list);
  }
  state.SetItemsProcessed(state.iterations() * kSessionsPerTenant);
}
BENCHMARK(BM_SqliteListSessionsOfTenant);

void BM_SqliteCreateAndDeleteSession(benchmark::State& state) {
  Fixture& f = fixture();
  SessionRecord s;
  s.tenant_id = Fixture::tenant_id(0);
  s.engine_dir = "/var/lib/tgpulse/engine/x";
  s.db_key = "a2V5";
  s.page_key_hash = TenantTokens::hash_token("k");
  for (auto _ : state) {
    state.PauseTiming();
    s.session_id = TenantTokens::generate_session_id().value();
    state.ResumeTiming();
    if (!f.store->create_session(s) || !f.store->delete_session(s.session_id)) state.SkipWithError("write failed");
  }
}
BENCHMARK(BM_SqliteCreateAndDeleteSession);

}  // namespace
}  // namespace tgpulse::store

BENCHMARK_MAIN();
