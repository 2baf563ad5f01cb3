// td_capacity: capacity figures for docs/PERFORMANCE.md, one JSON line per run.
//   td_capacity engine-tdsim <library> <N>  N clients through the Engine on libtdsim.so to WaitPhoneNumber
//   td_capacity raw <library> <N>           N clients through the bare C API (the library's own cost)
// Reports wall time, heap growth (mallinfo2) and RSS growth; the engine's cost per client is the
// difference of the two modes on the same library. With the real libtdjson, `raw` gives RSS per TDLib
// client offline.
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <utility>  // before Asio: awaitable.hpp uses std::exchange
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <nlohmann/json.hpp>

#include "td/engine.h"
#include "td/td_codec.h"
#include "telemetry/log_sink.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
namespace asio = boost::asio;
using tgpulse::td::AuthorizationState;

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string key;
  while (f >> key) {
    if (key == "VmRSS:") {
      long v = 0;
      f >> v;
      return v;
    }
    std::getline(f, key);
  }
  return 0;
}
std::size_t heap_bytes() { return mallinfo2().uordblks; }

json parameters(const fs::path& dir, int i) {
  return {{"@type", "setTdlibParameters"}, {"database_directory", (dir / std::to_string(i)).string()},
          {"api_id", 94575}, {"api_hash", "a3406de8d171bb422bb6ddf3bbd800e2"}, {"system_language_code", "en"},
          {"device_model", "td_capacity"}, {"application_version", "1.0"}, {"use_message_database", false},
          {"use_file_database", false}, {"use_chat_info_database", false}};
}

class NullSink final : public tgpulse::telemetry::LogSink {
 public:
  bool write(std::string_view) override { return true; }
  void flush() override {}
};

int run_raw(tgpulse::td::TdLibrary& lib, int n, const fs::path& dir, json* out) {
  lib.execute(R"({"@type":"setLogVerbosityLevel","new_verbosity_level":0})");
  const long rss0 = rss_kib();
  const std::size_t heap0 = heap_bytes();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int> ids;
  for (int i = 0; i < n; ++i) {
    ids.push_back(lib.create_client_id());
    lib.send(ids.back(), parameters(dir, i).dump().c_str());
  }
  int waiting = n;
  const auto deadline = t0 + std::chrono::seconds(600);
  while (waiting > 0 && std::chrono::steady_clock::now() < deadline) {
    const char* line = lib.receive(1.0);
    if (line == nullptr) continue;
    auto doc = json::parse(line, nullptr, false);
    if (doc.is_object() && doc.value("@type", "") == "updateAuthorizationState" &&
        doc["authorization_state"]["@type"] == "authorizationStateWaitPhoneNumber") {
      --waiting;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the library settle before measuring
  const long rss1 = rss_kib();
  (*out) = {{"mode", "raw"}, {"clients", n}, {"reached", n - waiting}, {"seconds", seconds},
            {"rss_kib_delta", rss1 - rss0}, {"heap_bytes_delta", static_cast<long long>(heap_bytes() - heap0)}};
  return waiting == 0 ? 0 : 1;
}

int run_engine(tgpulse::td::TdLibrary& lib, int n, const fs::path& dir, json* out) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  tgpulse::telemetry::Registry registry;
  tgpulse::telemetry::TelethonMetrics telethon(registry);
  tgpulse::telemetry::Logger logger(tgpulse::telemetry::LoggerOptions{}, std::make_unique<NullSink>());
  tgpulse::td::Engine engine(io, lib, registry, telethon, logger,
                             tgpulse::td::EngineOptions{.tdlib_log_verbosity = 0});
  if (!engine.start().ok()) return 2;
  const long rss0 = rss_kib();
  const std::size_t heap0 = heap_bytes();
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::shared_ptr<tgpulse::td::TdClient>> clients;
  clients.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto c = engine.create_client().value();
    clients.push_back(c);
    asio::co_spawn(c->strand(), [c, p = parameters(dir, i), &ok, &failed]() -> asio::awaitable<void> {
      auto r = co_await c->send(p, std::chrono::seconds(600));
      (r.ok() ? ok : failed).fetch_add(1);
    }, asio::detached);
  }
  const auto deadline = t0 + std::chrono::seconds(600);
  auto reached = [&] {
    int count = 0;
    for (const auto& c : clients) count += c->authorization_state() == AuthorizationState::wait_phone_number;
    return count;
  };
  while ((ok + failed < n || reached() < n) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  (*out) = {{"mode", "engine"}, {"clients", n}, {"reached", reached()}, {"failed", failed.load()},
            {"seconds", seconds}, {"rss_kib_delta", rss_kib() - rss0},
            {"heap_bytes_delta", static_cast<long long>(heap_bytes() - heap0)}};
  engine.stop();
  work.reset();
  io.stop();
  runner.join();
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s engine-tdsim|raw <library> <clients>\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  auto lib = tgpulse::td::DlopenTdLibrary::load(argv[2]);
  if (!lib.ok()) {
    std::fprintf(stderr, "%s\n", lib.error().message.c_str());
    return 2;
  }
  const int n = std::atoi(argv[3]);
  // Database directories: TD_BENCH_DIR, else /dev/shm (the figures are about memory and CPU, not disk).
  const char* base = std::getenv("TD_BENCH_DIR");
  const fs::path root = base != nullptr ? fs::path(base) : (fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path());
  const fs::path dir = root / ("td_capacity-" + std::to_string(::getpid()));
  json result;
  int rc = mode == "raw" ? run_raw(*lib.value(), n, dir, &result) : run_engine(*lib.value(), n, dir, &result);
  result["library"] = fs::path(argv[2]).filename().string();
  std::printf("%s\n", result.dump().c_str());
  std::fflush(stdout);
  std::error_code ec;
  fs::remove_all(dir, ec);
  // TDLib's clients are not closed: exit without running its static destructors.
  _exit(rc);
}
