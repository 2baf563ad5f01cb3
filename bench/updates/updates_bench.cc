// The update log's pieces in isolation (docs/PERFORMANCE.md, "Updates"), each beside its peer in the
// same run — the in-memory log (store/memory_update_log.h), which runs the same code without a disk:
//
// - BM_AppendBatch: one append() of 1,000 typical updateNewMessage rows (one transaction) on the SQLite
//   log (synchronous NORMAL and FULL) and on the memory log. The SQLite cases also report the file's
//   bytes per update (after a checkpoint; the log is acknowledged between batches outside the timing,
//   so the table stays the size a reading tenant keeps).
// - BM_HubAcceptCommitPoll: 10,000 updates of 1,000 sessions of 4 tenants accepted by the UpdateHub (the
//   engine's side), group-committed to the log on a 2-thread blocking pool, and read by one long-polling
//   reader per tenant that acknowledges with its offset (limit 1,000) — the service's path without HTTP.
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store/memory_session_store.h"
#include "store/memory_update_log.h"
#include "store/sqlite_session_store.h"
#include "store/sqlite_update_log.h"
#include "store/tenant_tokens.h"
#include "telemetry/metrics.h"
#include "updates/update_hub.h"

namespace tgpulse {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kTenants = 4;
constexpr int kSessions = 1000;  // spread over the tenants
constexpr std::size_t kBatch = 1000;

std::string tenant_id(int t) { return "bench-" + std::to_string(t); }
std::string session_id(int s) {
  std::string id = "s_" + std::to_string(s);
  id.resize(24, 'A');  // the length of a real session id
  return id;
}

// What tdsim's POST /incoming sends (docs/tdsim.md), ~300 bytes of JSON.
json message_update(std::int64_t n) {
  return {{"@type", "updateNewMessage"},
          {"message",
           {{"@type", "message"},
            {"id", 1048576 + n},
            {"sender_id", {{"@type", "messageSenderUser"}, {"user_id", 777000}}},
            {"chat_id", 777000},
            {"is_outgoing", false},
            {"date", 1767225600},
            {"edit_date", 0},
            {"content",
             {{"@type", "messageText"},
              {"text", {{"@type", "formattedText"}, {"text", "bench incoming #" + std::to_string(n)}, {"entities", json::array()}}}}}}}};
}

// A data directory with the session store's schema and the bench tenants, removed at the end.
struct SqliteFiles {
  FakeClock clock;
  fs::path dir;
  std::unique_ptr<store::SqliteSessionStore> sessions;
  std::unique_ptr<store::SqliteUpdateLog> log;

  explicit SqliteFiles(bool synchronous_full) {
    std::string templ = (fs::temp_directory_path() / "tgpulse-updates-bench-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    dir = templ;
    store::SqliteStoreOptions so{dir.string()};
    so.synchronous_full = synchronous_full;
    sessions = std::move(store::SqliteSessionStore::open(so, clock)).value();
    for (int t = 0; t < kTenants; ++t) {
      if (!sessions->create_tenant({tenant_id(t), store::TenantTokens::hash_token(tenant_id(t)), 1})) std::abort();
    }
    store::SqliteUpdateLogOptions lo{sessions->path()};
    lo.synchronous_full = synchronous_full;
    log = std::move(store::SqliteUpdateLog::open(lo)).value();
  }
  ~SqliteFiles() {
    log.reset();  // may already be closed (before a final checkpoint)
    sessions.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // The database file's size after the WAL was checkpointed into it.
  double checkpointed_bytes() const {
    sqlite3* raw = nullptr;
    sqlite3_open(sessions->path().c_str(), &raw);
    sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
    struct stat st {};
    return ::stat(sessions->path().c_str(), &st) == 0 ? static_cast<double>(st.st_size) : 0.0;
  }
};

std::vector<store::NewUpdate> batch_of(std::int64_t first) {
  std::vector<store::NewUpdate> batch;
  batch.reserve(kBatch);
  for (std::size_t i = 0; i < kBatch; ++i) {
    const auto n = first + static_cast<std::int64_t>(i);
    batch.push_back(store::NewUpdate{tenant_id(static_cast<int>(n % kTenants)), session_id(static_cast<int>(n % kSessions)),
                                     1767225600000 + n, message_update(n).dump()});
  }
  return batch;
}

void acknowledge_all(store::UpdateLog& log) {
  for (int t = 0; t < kTenants; ++t) {
    if (!log.acknowledge(tenant_id(t), std::int64_t{1} << 53)) std::abort();
  }
}

// Arg 0: the memory log (peer); 1: SQLite, synchronous NORMAL (the default); 2: SQLite, FULL.
void BM_AppendBatch(benchmark::State& state) {
  const int kind = static_cast<int>(state.range(0));
  std::unique_ptr<SqliteFiles> files;
  store::MemorySessionStore tenants{SystemClock::instance()};
  store::MemoryUpdateLog memory{&tenants};
  store::UpdateLog* log = &memory;
  if (kind == 0) {
    for (int t = 0; t < kTenants; ++t) {
      if (!tenants.create_tenant({tenant_id(t), store::TenantTokens::hash_token(tenant_id(t)), 1})) std::abort();
    }
  } else {
    files = std::make_unique<SqliteFiles>(kind == 2);
    log = files->log.get();
  }
  const auto batch = batch_of(0);
  std::size_t payload_bytes = 0;
  for (const auto& u : batch) payload_bytes += u.payload.size();
  std::int64_t batches = 0;
  for (auto _ : state) {
    if (!log->append(batch)) state.SkipWithError("append failed");
    if (++batches % 20 == 0) {  // keep the table the size of a log that is read
      state.PauseTiming();
      acknowledge_all(*log);
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kBatch));
  state.counters["payload_bytes_per_update"] = static_cast<double>(payload_bytes) / kBatch;
  if (files) {
    // Bytes per update on disk: 20 batches into a new file (the one above reuses the pages acknowledged
    // rows freed), measured after a checkpoint.
    SqliteFiles fresh(kind == 2);
    const double before = fresh.checkpointed_bytes();
    for (int i = 0; i < 20; ++i) {
      if (!fresh.log->append(batch_of(i * static_cast<std::int64_t>(kBatch)))) std::abort();
    }
    fresh.log.reset();  // its checkpoint thread joined, so the full checkpoint is not refused as busy
    state.counters["store_bytes_per_update"] = (fresh.checkpointed_bytes() - before) / (20.0 * kBatch);
  }
}
BENCHMARK(BM_AppendBatch)->ArgName("log")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The service's hub on two io threads and a 2-thread store pool, as `tgpulse serve` runs it.
struct HubRig {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  BlockingPool pool{BlockingPoolOptions{"store", 2, 4096}};
  telemetry::Registry registry;
  updates::UpdateMetrics metrics{registry};
  std::unique_ptr<updates::UpdateHub> hub;
  std::vector<std::int64_t> offsets = std::vector<std::int64_t>(kTenants, 0);

  explicit HubRig(store::UpdateLog& log) {
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    hub = std::make_unique<updates::UpdateHub>(io.get_executor(), pool, log, SystemClock::instance(),
                                               updates::UpdatesOptions{}, metrics);
    hub->start();
  }
  ~HubRig() {
    hub->stop(5s);
    hub.reset();
    pool.stop();
    work.reset();
    for (auto& t : threads) t.join();
  }
  // One reader per tenant polls (acknowledging with its offset) until it got `want` updates.
  std::future<std::int64_t> read(int tenant, std::int64_t want) {
    auto* h = hub.get();
    std::int64_t* offset = &offsets[static_cast<std::size_t>(tenant)];
    return asio::co_spawn(
        asio::make_strand(io),
        [h, tenant, want, offset]() -> asio::awaitable<std::int64_t> {
          std::int64_t got = 0;
          while (got < want) {
            auto page = co_await h->poll(tenant_id(tenant), *offset, store::kMaxUpdateReadLimit, "", 5s,
                                         updates::DeliveryChannel::long_poll);
            if (!page || page->empty()) co_return got;
            got += static_cast<std::int64_t>(page->size());
            *offset = page->back().update_id + 1;
          }
          co_return got;
        },
        asio::use_future);
  }
};

// Arg 0: the memory log (peer); 1: the SQLite log (synchronous NORMAL).
void BM_HubAcceptCommitPoll(benchmark::State& state) {
  constexpr std::int64_t kUpdates = 10000;
  const bool sqlite = state.range(0) == 1;
  std::unique_ptr<SqliteFiles> files;
  store::MemorySessionStore tenants{SystemClock::instance()};
  store::MemoryUpdateLog memory{&tenants};
  store::UpdateLog* log = &memory;
  if (sqlite) {
    files = std::make_unique<SqliteFiles>(false);
    log = files->log.get();
  } else {
    for (int t = 0; t < kTenants; ++t) {
      if (!tenants.create_tenant({tenant_id(t), store::TenantTokens::hash_token(tenant_id(t)), 1})) std::abort();
    }
  }
  std::vector<json> updates;
  for (std::int64_t n = 0; n < kUpdates; ++n) updates.push_back(message_update(n));
  std::vector<std::string> sessions;
  for (int s = 0; s < kSessions; ++s) sessions.push_back(session_id(s));
  HubRig rig(*log);
  std::int64_t delivered = 0;
  for (auto _ : state) {
    std::vector<std::future<std::int64_t>> readers;
    for (int t = 0; t < kTenants; ++t) readers.push_back(rig.read(t, kUpdates / kTenants));
    for (std::int64_t n = 0; n < kUpdates; ++n) {
      // Session s belongs to tenant s % kTenants.
      const auto s = static_cast<std::size_t>(n % kSessions);
      rig.hub->accept(tenant_id(static_cast<int>(s % kTenants)), sessions[s], updates[static_cast<std::size_t>(n)]);
    }
    for (auto& r : readers) delivered += r.get();
  }
  if (delivered != kUpdates * static_cast<std::int64_t>(state.iterations())) state.SkipWithError("updates missing");
  state.SetItemsProcessed(delivered);
}
BENCHMARK(BM_HubAcceptCommitPoll)->ArgName("log")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tgpulse

BENCHMARK_MAIN();
