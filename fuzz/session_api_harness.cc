#include "session_api_harness.h"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/blocking_pool.h"
#include "core/clock.h"
#include "session/fake_engine.h"
#include "session/session_manager.h"
#include "session/session_routes.h"
#include "store/async_session_store.h"
#include "store/last_used_batcher.h"
#include "store/memory_session_store.h"
#include "store/tenant_token_cache.h"
#include "store/tenant_tokens.h"
#include "telemetry/log_sink.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/span_exporter.h"
#include "telemetry/telethon_metrics.h"
#include "telemetry/tracer.h"
#include "throttle/flood_ledger.h"
#include "throttle/invoke_pipeline.h"
#include "throttle/throttle.h"

namespace tgpulse::fuzz {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace {

// Rebuild after this many inputs: the fake engine keeps the history of every client it made.
constexpr int kUsesPerWorld = 500;

class DiscardingLogSink final : public telemetry::LogSink {
 public:
  bool write(std::string_view) override { return true; }
  void flush() override {}
};

class DiscardingSpanExporter final : public telemetry::SpanExporter {
 public:
  telemetry::ExportResult export_batch(const std::vector<std::unique_ptr<telemetry::SpanData>>&,
                                       std::chrono::steady_clock::time_point) override {
    return telemetry::ExportResult::success;
  }
};

// The throttle's waiting layers off: an input of many invokes would otherwise wait out its deadline
// (up to 500 ms) for tokens each time. The tenant quota (refused at once) stays on.
throttle::ThrottleOptions throttle_options() {
  throttle::ThrottleOptions o;
  o.enabled = false;
  return o;
}

std::string make_data_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tgpulse-fuzz-sessions-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

}  // namespace

struct SessionApiHarness::World {
  World()
      : data_dir(make_data_dir()),
        store(clock),
        metrics(registry),
        logger(telemetry::LoggerOptions{}, std::make_unique<DiscardingLogSink>()),
        tracer(telemetry::TracerOptions{}, std::make_unique<DiscardingSpanExporter>()),
        throttle(throttle_options(), clock, metrics, registry, telemetry::CatalogOptions{}.known_methods),
        ledger(clock),
        invoke(throttle, ledger, throttle::FloodOptions{}, metrics, logger) {
    if (!store.create_tenant({"acme", store::TenantTokens::hash_token(std::string(kTenantToken)), 0}).ok()) std::abort();
    if (!store.create_tenant({"other", store::TenantTokens::hash_token("tgp_other"), 0}).ok()) std::abort();
    session::SessionOptions o;
    o.data_dir = data_dir;
    o.wake_interval = std::chrono::milliseconds(50);
    o.close_timeout = std::chrono::seconds(1);
    o.engine_request_timeout = std::chrono::seconds(1);
    manager = std::make_unique<session::SessionManager>(
        io.get_executor(), session::SessionServices{clock, store, engine, metrics, logger, tracer, o});
    manager->set_on_session_removed([this](const std::string& id) { invoke.forget_session(id); });
    thread = std::thread([this] { io.run(); });
    asio::co_spawn(io, manager->start(), asio::use_future).wait();

    session::SessionRoutesOptions ro;
    ro.admin_token = std::string(kAdminToken);
    ro.first_link_wait = std::chrono::milliseconds(200);
    ro.default_invoke_deadline = std::chrono::milliseconds(500);
    ro.events_wait = std::chrono::milliseconds(50);
    routes = std::make_unique<session::SessionRoutes>(*manager, session::RouteStore{calls, tokens, last_used}, &invoke,
                                                      nullptr, ro);
    routes->add_to(router);
  }

  ~World() {
    asio::co_spawn(io, manager->stop(), asio::use_future).wait();
    routes.reset();
    work.reset();
    io.stop();
    thread.join();
    manager.reset();
    std::error_code ec;
    std::filesystem::remove_all(data_dir, ec);
  }

  // Runs `f` on the session layer's thread and waits for it.
  template <typename F>
  void on_session_thread(F f) {
    std::promise<void> done;
    asio::post(io, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  std::string data_dir;
  const Clock& clock = SystemClock::instance();
  store::MemorySessionStore store;
  // The store as the service reaches it: calls on a blocking pool, tokens through the cache.
  BlockingPool pool{{"store", 2, 256}};
  store::AsyncSessionStore calls{store, pool};
  store::TenantTokenCache tokens{store::StoreAccessOptions{}, clock};
  store::LastUsedBatcher last_used{store, store::StoreAccessOptions{}, nullptr};
  session::FakeEngine engine;
  telemetry::Registry registry;
  telemetry::TelethonMetrics metrics;
  telemetry::Logger logger;
  telemetry::Tracer tracer;
  throttle::Throttle throttle;
  throttle::FloodLedger ledger;
  throttle::InvokePipeline invoke;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::unique_ptr<session::SessionManager> manager;
  std::unique_ptr<session::SessionRoutes> routes;
  http::Router router;
  std::string sid;  // authorized
  std::string qid;  // QR login waiting for a scan
  std::string key;  // its page key
};

SessionApiHarness::SessionApiHarness() { rebuild(); }
SessionApiHarness::~SessionApiHarness() = default;

const http::Router& SessionApiHarness::router() const { return world_->router; }
telemetry::Registry& SessionApiHarness::registry() { return world_->registry; }
telemetry::Logger& SessionApiHarness::logger() { return world_->logger; }
telemetry::Tracer& SessionApiHarness::tracer() { return world_->tracer; }

void SessionApiHarness::rebuild() {
  world_.reset();
  world_ = std::make_unique<World>();
  uses_ = 0;
  World& w = *world_;
  auto create = [&]() -> json {
    http::Request req;
    req.method = bhttp::verb::post;
    req.target = req.path = "/v1/qr-logins";
    req.headers.set(bhttp::field::authorization, "Bearer " + std::string(kTenantToken));
    http::Response res = call(std::move(req));
    if (res.status != bhttp::status::created) std::abort();
    return json::parse(res.body);
  };
  // The first login is scanned at once; the second stays waiting.
  const json first = create();
  w.sid = first.at("session_id").get<std::string>();
  w.on_session_thread([&] { w.engine.emit(json{{"@type", "authorizationStateReady"}}); });
  for (int i = 0; i < 200; ++i) {
    auto s = w.manager->find("acme", w.sid);
    if (s && s->view().status == session::SessionStatus::authorized) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const json second = create();
  w.qid = second.at("session_id").get<std::string>();
  const std::string page = second.at("page_url").get<std::string>();
  w.key = page.substr(page.find("?key=") + 5);
}

bool SessionApiHarness::ensure_ready(const std::function<void()>& before_rebuild) {
  World& w = *world_;
  bool intact = false;
  {  // released before a rebuild: a Session must not outlive its world's io_context
    auto s = w.manager->find("acme", w.sid);
    auto q = w.manager->find("acme", w.qid);
    intact = s && s->view().status == session::SessionStatus::authorized && q &&
             q->view().status == session::SessionStatus::qr_pending;
  }
  if (intact && ++uses_ < kUsesPerWorld) return false;
  if (before_rebuild) before_rebuild();
  rebuild();
  return true;
}

std::string SessionApiHarness::expand(std::string_view text) const {
  std::string out(text);
  replace_all(out, "{sid}", world_->sid);
  replace_all(out, "{qid}", world_->qid);
  replace_all(out, "{key}", world_->key);
  return out;
}

http::Response SessionApiHarness::call(http::Request req) {
  // One io_context for every call, living longer than any world: the session layer may keep timers on
  // a request's executor after the answer (a per-call io_context died under them: UBSan invalid vptr).
  asio::io_context& io = handler_io_;
  req.executor = io.get_executor();
  const auto qpos = req.target.find('?');
  if (req.path.empty()) req.path = req.target.substr(0, qpos);
  const std::string_view query =
      qpos == std::string::npos ? std::string_view() : std::string_view(req.target).substr(qpos + 1);
  http::RouteMatch match = world_->router.match(req.method, req.path);
  if (match.kind == http::RouteMatch::Kind::not_found) {
    return http::Response::error(bhttp::status::not_found, "not_found", "no such path");
  }
  if (match.kind == http::RouteMatch::Kind::method_not_allowed) {
    return http::Response::error(bhttp::status::method_not_allowed, "method_not_allowed", match.allow);
  }
  req.route = match.pattern;
  req.path_params = std::move(match.params);
  auto parsed = http::parse_query(query);
  if (!parsed) return http::Response::error(bhttp::status::bad_request, "bad_request", "malformed query string");
  req.query_params = std::move(*parsed);

  std::optional<http::Response> out;
  auto handler = match.route->handler;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::awaitable<http::Response> answer = handler(req);
        out = co_await std::move(answer);
      },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "handler of %s threw: %s\n", req.route.c_str(), ex.what());
        } catch (...) {
          std::fprintf(stderr, "handler of %s threw a non-exception\n", req.route.c_str());
        }
        std::abort();
      });
  if (io.stopped()) io.restart();
  while (!out) {
    if (io.run_one() == 0) break;  // nothing left to run and no answer
    if (io.stopped()) io.restart();
  }
  if (!out) std::abort();  // every request is answered exactly once
  return std::move(*out);
}

}  // namespace tgpulse::fuzz
