#include "td/engine.h"

#include <future>

#include <boost/asio/strand.hpp>

#include "td/engine_context.h"
#include "td/td_log_line.h"

namespace tgpulse::td {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// TDLib's log callback has no user pointer: the engine that receives it.
std::atomic<Engine*> g_log_engine{nullptr};

const std::vector<double>& duration_buckets() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return b;
}
const std::vector<double>& lag_buckets() {
  static const std::vector<double> b = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
  return b;
}

telemetry::LogLevel level_for_verbosity(int verbosity) {
  if (verbosity <= 1) return telemetry::LogLevel::error;
  if (verbosity == 2) return telemetry::LogLevel::warn;
  if (verbosity == 3) return telemetry::LogLevel::info;
  return telemetry::LogLevel::debug;
}

}  // namespace

Engine::Engine(asio::io_context& io, TdLibrary& library, telemetry::Registry& registry,
               telemetry::TelethonMetrics& metrics, telemetry::Logger& logger, EngineOptions options)
    : io_(io),
      library_(library),
      telethon_(metrics),
      logger_(logger),
      flood_reporter_(metrics, logger),
      options_(std::move(options)),
      context_(std::make_shared<EngineContext>()) {
  auto& ctx = *context_;
  ctx.library = &library_;
  ctx.telethon = &telethon_;
  ctx.logger = &logger_;
  ctx.default_timeout = options_.default_request_timeout;

  auto& duration = registry.histogram("tgpulse_td_request_duration_seconds",
                                      "Duration of TDLib requests from send to answer", duration_buckets(),
                                      {"method"});
  for (const auto& m : options_.known_methods) {
    ctx.duration_by_method.emplace(m, &duration.labels({m}));
  }
  ctx.duration_other = &duration.labels({"other"});
  ctx.receive_lag = &registry.histogram("tgpulse_td_receive_lag_seconds",
                                        "Delay from td_receive returning an object to its handler running",
                                        lag_buckets()).get();
  ctx.updates = &registry.counter("tgpulse_td_updates_total", "TDLib updates received").get();
  auto& errors = registry.counter("tgpulse_td_receive_errors_total",
                                  "TDLib objects the receive loop could not route", {"reason"});
  ctx.invalid_json = &errors.labels({"invalid_json"});
  ctx.unknown_client = &errors.labels({"unknown_client"});
  ctx.unknown_extra = &errors.labels({"unknown_extra"});
  auto& clients = registry.gauge("tgpulse_td_clients", "TDLib clients by authorization state", {"state"});
  for (int s = 0; s < kAuthorizationStateCount; ++s) {
    auto state = static_cast<AuthorizationState>(s);
    if (state == AuthorizationState::closed) continue;  // closed clients leave the engine
    ctx.clients_by_state[static_cast<std::size_t>(s)] = &clients.labels({TdCodec::state_label(state)});
  }
}

Engine::~Engine() { stop(); }

bool Engine::running() const noexcept { return context_->running.load(std::memory_order_acquire); }

Status Engine::start() {
  if (started_.exchange(true)) {
    return Status(Errc::conflict, "the TDLib engine is already started");
  }
  auto set = [&](const json& request) -> Status {
    auto r = execute(request);
    if (!r.ok()) return r.error();
    return {};
  };
  if (auto s = set({{"@type", "setLogVerbosityLevel"}, {"new_verbosity_level", options_.tdlib_log_verbosity}}); !s) {
    started_ = false;
    return s;
  }
  if (options_.silence_tdlib_stderr) {
    if (auto s = set({{"@type", "setLogStream"}, {"log_stream", {{"@type", "logStreamEmpty"}}}}); !s) {
      started_ = false;
      return s;
    }
  }
  g_log_engine.store(this, std::memory_order_release);
  library_.set_log_message_callback(options_.tdlib_log_verbosity, &Engine::log_trampoline);
  stopping_ = false;
  context_->running.store(true, std::memory_order_release);
  receive_thread_ = std::thread([this] { receive_loop(); });
  logger_.info("TDLib engine started", {{"td.library", library_.path()},
                                         {"td.log_verbosity", options_.tdlib_log_verbosity}});
  return {};
}

void Engine::stop() {
  if (!started_.load()) return;
  if (stopping_.exchange(true)) return;
  context_->running.store(false, std::memory_order_release);
  if (receive_thread_.joinable()) {
    // The loop notices `stopping_` after at most one td_receive timeout.
    auto done = std::async(std::launch::async, [this] { receive_thread_.join(); });
    const auto bound = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::duration<double>(options_.receive_timeout_seconds)) +
                       options_.stop_timeout;
    if (done.wait_for(bound) != std::future_status::ready) {
      logger_.error("TDLib receive thread did not stop in time", {{"timeout_ms", static_cast<std::int64_t>(bound.count())}});
    }
    done.wait();
  }
  Engine* self = this;
  if (g_log_engine.compare_exchange_strong(self, nullptr)) {
    library_.set_log_message_callback(0, nullptr);
  }
  std::unordered_map<int, std::shared_ptr<TdClient>> clients;
  {
    std::lock_guard lock(clients_mutex_);
    clients.swap(clients_);
  }
  const Error why(Errc::unavailable, "the TDLib engine stopped");
  for (auto& [id, client] : clients) {
    auto state = client->state_.load();
    if (auto* g = context_->clients_by_state[static_cast<std::size_t>(state)]) g->dec();
    client->mark_closed(why);
  }
  logger_.info("TDLib engine stopped", {{"td.clients", static_cast<std::int64_t>(clients.size())}});
  started_ = false;
}

Result<std::shared_ptr<TdClient>> Engine::create_client(TdClient::UpdateHandler handler, ClientOwner owner) {
  if (!running()) {
    return Error(Errc::unavailable, "the TDLib engine is not running");
  }
  const int id = library_.create_client_id();
  std::shared_ptr<TdClient> client(
      new TdClient(context_, id, asio::make_strand(io_.get_executor()), std::move(handler), std::move(owner)));
  {
    std::lock_guard lock(clients_mutex_);
    clients_[id] = client;
  }
  context_->clients_by_state[static_cast<std::size_t>(AuthorizationState::unknown)]->inc();
  return client;
}

Result<json> Engine::execute(const json& request) {
  std::string text;
  try {
    text = request.dump();
  } catch (const json::exception& e) {
    return Error(Errc::invalid_argument, std::string("TDLib request cannot be encoded: ") + e.what());
  }
  const char* answer = library_.execute(text.c_str());
  if (answer == nullptr) {
    return Error(Errc::engine_error, "td_execute returned nothing");
  }
  auto doc = TdCodec::parse(answer);
  if (!doc) {
    return Error(Errc::engine_error, "td_execute returned a line that is not a JSON object");
  }
  if (TdCodec::is_error(*doc)) {
    return TdCodec::error_from(*doc);
  }
  return std::move(*doc);
}

std::size_t Engine::client_count() const {
  std::lock_guard lock(clients_mutex_);
  return clients_.size();
}

EngineStats Engine::stats() const {
  const auto& c = context_->counts;
  EngineStats s;
  s.received = c.received.load();
  s.updates = c.updates.load();
  s.answers = c.answers.load();
  s.invalid_json = c.invalid_json.load();
  s.unknown_client = c.unknown_client.load();
  s.unknown_extra = c.unknown_extra.load();
  s.absorbed_flood_waits = c.absorbed_flood_waits.load();
  return s;
}

void Engine::receive_loop() {
  while (!stopping_.load(std::memory_order_acquire)) {
    heartbeat_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    const char* line = library_.receive(options_.receive_timeout_seconds);
    if (line == nullptr) continue;
    try {
      route(line);
    } catch (const std::exception& e) {
      // route() only throws on allocation failure or a bug: log, count as unroutable, keep going.
      context_->counts.invalid_json++;
      context_->invalid_json->inc();
      logger_.error("TDLib receive loop failed to route an object", {{"error.message", e.what()}});
    }
  }
}

void Engine::route(const char* line) {
  auto& ctx = *context_;
  const auto received = std::chrono::steady_clock::now();
  ctx.counts.received++;
  ParsedJson parsed = TdCodec::parse_bounded(line);
  if (parsed.over_limits()) {
    // Too deep or too large to pass on: the request that asked for it gets a clear error instead, and
    // nothing copies or serialises the line.
    ctx.counts.invalid_json++;
    ctx.invalid_json->inc();
    const std::string reason = parsed.message(TdCodec::kAnswerLimits);
    logger_.warn("TDLib object over the JSON bounds dropped",
                 {{"td.type", std::string(TdCodec::type_of(parsed.envelope))}, {"error.message", reason}});
    auto client_id = TdCodec::client_id_of(parsed.envelope);
    auto extra = TdCodec::extra_of(parsed.envelope);
    std::shared_ptr<TdClient> client;
    if (client_id && extra) {
      std::lock_guard lock(clients_mutex_);
      if (auto it = clients_.find(*client_id); it != clients_.end()) client = it->second;
    }
    if (client) {
      json error = {{"@type", "error"}, {"code", 0}, {"message", "TDLib's answer " + reason + "; it is not passed on"}};
      client->complete(*extra, std::move(error), received);
    }
    return;
  }
  std::optional<json> doc;
  if (parsed.ok() && parsed.value.is_object()) doc = std::move(parsed.value);
  if (!doc) {
    ctx.counts.invalid_json++;
    ctx.invalid_json->inc();
    logger_.warn("TDLib returned a line that is not a JSON object",
                 {{"td.bytes", static_cast<std::int64_t>(std::char_traits<char>::length(line))}});
    return;
  }
  auto client_id = TdCodec::client_id_of(*doc);
  std::shared_ptr<TdClient> client;
  if (client_id) {
    std::lock_guard lock(clients_mutex_);
    if (auto it = clients_.find(*client_id); it != clients_.end()) client = it->second;
  }
  const std::string type(TdCodec::type_of(*doc));
  if (!client) {
    ctx.counts.unknown_client++;
    ctx.unknown_client->inc();
    logger_.debug("TDLib object for a client this engine does not know",
                  {{"td.client_id", client_id.value_or(0)}, {"td.type", type}});
    return;
  }
  if (auto extra = TdCodec::extra_of(*doc)) {
    if (client->complete(*extra, std::move(*doc), received)) {
      ctx.counts.answers++;
      return;
    }
  }
  if (type.rfind("update", 0) != 0) {
    // An answer nobody waits for: its send() timed out or was cancelled, or TDLib answered a request
    // it could not attribute (malformed JSON carries no "@extra").
    ctx.counts.unknown_extra++;
    ctx.unknown_extra->inc();
    logger_.info("TDLib answer for no pending request", {{"td.client_id", client->id()}, {"td.type", type}});
    return;
  }
  ctx.counts.updates++;
  ctx.updates->inc();
  bool closed_now = false;
  if (type == "updateAuthorizationState") {
    auto it = doc->find("authorization_state");
    if (it != doc->end()) {
      const auto state = TdCodec::authorization_state(*it);
      const auto previous = client->state_.exchange(state, std::memory_order_acq_rel);
      {
        std::lock_guard lock(client->mutex_);
        client->state_object_ = *it;
      }
      if (previous != state) {
        if (auto* g = ctx.clients_by_state[static_cast<std::size_t>(previous)]) g->dec();
        if (auto* g = ctx.clients_by_state[static_cast<std::size_t>(state)]) g->inc();
      }
      closed_now = state == AuthorizationState::closed;
    }
  }
  client->deliver_update(std::move(*doc), received);
  if (closed_now) {
    {
      std::lock_guard lock(clients_mutex_);
      clients_.erase(client->id());
    }
    client->mark_closed(Error(Errc::unavailable, "TDLib client " + std::to_string(client->id()) + " is closed"));
  }
}

void Engine::log_trampoline(int verbosity, const char* message) {
  if (Engine* engine = g_log_engine.load(std::memory_order_acquire)) {
    engine->on_tdlib_log(verbosity, message);
  }
}

void Engine::on_tdlib_log(int verbosity, const char* message) {
  if (message == nullptr) return;
  auto line = TdLogLine::parse(verbosity, message);
  if (line.absorbed_flood_wait) {
    context_->counts.absorbed_flood_waits++;
    // TDLib tags the line with the client id ([#N]); the method is not in it (only the MTProto
    // constructor), nor is the request, so the reason stays "engine" and there is no trace.
    ClientOwner owner;
    {
      std::lock_guard lock(clients_mutex_);
      if (auto it = clients_.find(line.client_id); it != clients_.end()) owner = it->second->owner();
    }
    telemetry::FloodWaitReport report;
    report.operation = telemetry::floodwait_operation::kEngine;
    report.tenant_id = owner.tenant_id;
    report.session_id = owner.session_id;
    report.seconds = line.absorbed_flood_wait->seconds;
    report.delay = line.absorbed_flood_wait->seconds < 1 ? 1 : line.absorbed_flood_wait->seconds;
    report.td_client_id = line.client_id;
    report.td_total_wait = line.absorbed_flood_wait->total_seconds;
    flood_reporter_.report(report);
  }
  const auto level = level_for_verbosity(verbosity);
  if (!logger_.enabled(level)) return;
  logger_.log(level, line.text, {{"log.logger", "tdlib"}, {"td.verbosity", verbosity},
                                 {"td.source", line.source}, {"td.client_id", line.client_id}});
}

}  // namespace tgpulse::td
