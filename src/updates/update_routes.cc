#include "updates/update_routes.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <mutex>

#include "core/time_format.h"
#include "store/tenant_tokens.h"

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace tgpulse::updates {

json update_json(const store::StoredUpdate& u) { return json::parse(update_json_text(u), nullptr, false); }

std::string update_json_text(const store::StoredUpdate& u) {
  // The keys in the order nlohmann::json writes an object (sorted), as the answers always had them.
  std::string out;
  out.reserve(u.payload.size() + 120);
  out += R"({"received_at":")";
  out += iso8601(Clock::WallTime(std::chrono::milliseconds(u.received_at_ms)));
  out += R"(","session_id":)";
  out += u.session_id.empty() ? std::string("null") : json(u.session_id).dump();
  out += R"(,"update":)";
  out += u.payload;  // written by the hub as compact JSON text (update_hub.cc), spliced in unparsed
  out += R"(,"update_id":)";
  out += std::to_string(u.update_id);
  out += '}';
  return out;
}

namespace {

// Ids and offsets fit a JSON number exactly (2^53).
constexpr std::int64_t kMaxOffset = std::int64_t{1} << 53;

// An integer query parameter in [min, max]; `fallback` when absent. invalid_argument names it.
Result<std::int64_t> int_param(const http::Request& r, std::string_view name, std::int64_t fallback, std::int64_t min,
                               std::int64_t max) {
  std::optional<std::string_view> v = r.query(name);
  if (!v) return fallback;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < min || n > max) {
    return Error(Errc::invalid_argument, std::string(name) + " must be an integer from " + std::to_string(min) +
                                             " to " + std::to_string(max));
  }
  return n;
}

// A stream's place among the tenant's readers is taken before the answer's head, so a stream over the
// bound is a 429 like a long poll; the hub's wake-ups reach the stream's writer once it runs (the
// writer reads everything committed after it is set, so an earlier wake-up lost here loses nothing).
class StreamWaker {
 public:
  void set(std::function<void()> wake) {
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
  }
  void operator()() {
    std::function<void()> wake;
    {
      std::lock_guard lock(mu_);
      wake = wake_;
    }
    if (wake) wake();
  }

 private:
  std::mutex mu_;
  std::function<void()> wake_;
};

// The data of a stream's last event when it cannot go on.
std::string error_data(const Error& e) { return json{{"error", errc_name(e.code)}, {"message", e.message}}.dump(); }

}  // namespace

struct UpdateRoutes::Impl {
  UpdateHub& hub;
  TenantGate gate;
  UpdateRoutesOptions options;

  // The session filter: "" when absent; not_found for a session that is not the caller's.
  // Not a coroutine: the query parameter is copied before the request can go away.
  asio::awaitable<Result<std::string>> session_filter(const http::Request& r, std::string tenant) {
    std::optional<std::string_view> v = r.query("session_id");
    return session_filter_of(v ? std::optional<std::string>(std::string(*v)) : std::nullopt, std::move(tenant));
  }
  asio::awaitable<Result<std::string>> session_filter_of(std::optional<std::string> v, std::string tenant) {
    if (!v) co_return std::string();
    if (!store::TenantTokens::is_valid_session_id(*v)) {
      co_return Error(Errc::invalid_argument, "session_id is not a session id");
    }
    std::string id = std::move(*v);
    asio::awaitable<Status> owned = gate.owns_session(std::move(tenant), id);
    Status st = co_await std::move(owned);
    if (!st) co_return st.error();
    co_return id;
  }

  asio::awaitable<http::Response> get_updates(http::Request& r) {
    asio::awaitable<http::Caller> auth = gate.tenant_of(r);
    http::Caller caller = co_await std::move(auth);
    if (!caller) co_return std::move(*caller.refusal);
    const std::string& tenant = caller.tenant_id;
    const auto max_timeout = static_cast<std::int64_t>(hub.options().max_poll_timeout.count());
    Result<std::int64_t> offset = int_param(r, "offset", 0, 0, kMaxOffset);
    if (!offset) co_return http::Response::from_error(offset.error());
    Result<std::int64_t> limit = int_param(r, "limit", 100, 1, static_cast<std::int64_t>(store::kMaxUpdateReadLimit));
    if (!limit) co_return http::Response::from_error(limit.error());
    Result<std::int64_t> timeout = int_param(r, "timeout", 0, 0, max_timeout);
    if (!timeout) co_return http::Response::from_error(timeout.error());
    asio::awaitable<Result<std::string>> filter = session_filter(r, tenant);
    Result<std::string> session = co_await std::move(filter);
    if (!session) co_return http::Response::from_error(session.error());
    asio::awaitable<Result<std::vector<store::StoredUpdate>>> polled =
        hub.poll(tenant, *offset, static_cast<std::size_t>(*limit), *session, std::chrono::seconds(*timeout),
                 DeliveryChannel::long_poll);
    Result<std::vector<store::StoredUpdate>> page = co_await std::move(polled);
    if (!page) co_return http::Response::from_error(page.error());
    // The body is written as text: each stored update is spliced in once, never parsed and dumped again.
    std::string body = R"({"updates":[)";
    for (std::size_t i = 0; i < page->size(); ++i) {
      if (i > 0) body += ',';
      body += update_json_text((*page)[i]);
    }
    body += "]}";
    co_return http::Response::text(bhttp::status::ok, std::move(body), "application/json");
  }

  asio::awaitable<http::Response> get_settings(http::Request& r) {
    asio::awaitable<http::Caller> auth = gate.tenant_of(r);
    http::Caller caller = co_await std::move(auth);
    if (!caller) co_return std::move(*caller.refusal);
    const std::string& tenant = caller.tenant_id;
    asio::awaitable<Result<AllowedUpdates>> read = hub.allowed_updates(tenant);
    Result<AllowedUpdates> allowed = co_await std::move(read);
    if (!allowed) co_return http::Response::from_error(allowed.error());
    co_return http::Response::json(bhttp::status::ok, {{"allowed_updates", allowed->to_json()}});
  }

  asio::awaitable<http::Response> put_settings(http::Request& r) {
    asio::awaitable<http::Caller> auth = gate.tenant_of(r);
    http::Caller caller = co_await std::move(auth);
    if (!caller) co_return std::move(*caller.refusal);
    const std::string& tenant = caller.tenant_id;
    Result<json> body = gate.body_object(r);
    if (!body) co_return http::Response::from_error(body.error());
    if (!body->contains("allowed_updates") || !(*body)["allowed_updates"].is_array()) {
      co_return http::Response::error(bhttp::status::bad_request, "invalid_argument",
                                      "the body must be {\"allowed_updates\": [update types]}");
    }
    Result<AllowedUpdates> allowed = AllowedUpdates::parse((*body)["allowed_updates"]);
    if (!allowed) {
      co_return http::Response::error(bhttp::status::unprocessable_entity, "invalid_argument", allowed.error().message);
    }
    json answer = {{"allowed_updates", allowed->to_json()}};
    asio::awaitable<Status> save = hub.set_allowed_updates(tenant, std::move(*allowed));
    Status saved = co_await std::move(save);
    if (!saved) co_return http::Response::from_error(saved.error());
    co_return http::Response::json(bhttp::status::ok, answer);
  }

  asio::awaitable<http::Response> stream(http::Request& r) {
    asio::awaitable<http::Caller> auth = gate.tenant_of(r);
    http::Caller caller = co_await std::move(auth);
    if (!caller) co_return std::move(*caller.refusal);
    const std::string& tenant = caller.tenant_id;
    // A webhook takes the updates: 409 before the stream starts (a stream already open ends with an
    // error event when one is set).
    if (Status st = hub.readable(tenant); !st) co_return http::Response::from_error(st.error());
    asio::awaitable<Result<std::string>> filter = session_filter(r, tenant);
    Result<std::string> session = co_await std::move(filter);
    if (!session) co_return http::Response::from_error(session.error());
    // Where to start: after Last-Event-ID (a reconnect, which acknowledges what it names), else ?offset.
    std::int64_t offset = 0;
    bool acknowledge = false;
    std::string_view last_event = r.header("last-event-id");
    if (!last_event.empty()) {
      std::int64_t id = 0;
      auto [end, ec] = std::from_chars(last_event.data(), last_event.data() + last_event.size(), id);
      if (ec != std::errc() || end != last_event.data() + last_event.size() || id < 0 || id >= kMaxOffset) {
        co_return http::Response::error(bhttp::status::bad_request, "invalid_argument",
                                        "Last-Event-ID must be an update_id");
      }
      offset = id + 1;
      acknowledge = true;
    } else {
      Result<std::int64_t> from = int_param(r, "offset", 0, 0, kMaxOffset);
      if (!from) co_return http::Response::from_error(from.error());
      offset = *from;
    }
    auto waker = std::make_shared<StreamWaker>();
    Result<UpdateHub::Listening> listening = hub.listen(tenant, [waker] { (*waker)(); });
    if (!listening) co_return http::Response::from_error(listening.error());
    // Held by the producer: the place is given back when the stream ends (or never starts).
    auto place = std::make_shared<UpdateHub::Listening>(std::move(*listening));
    UpdateHub* hub_ptr = &hub;
    UpdateRoutesOptions opts = options;
    // In a cluster another node's commit wakes no stream here: read the shared log at each recheck too.
    if (const auto recheck = hub.options().shared_log_recheck; recheck.count() > 0) {
      opts.stream_wait = std::min(opts.stream_wait, recheck);
    }
    std::string tenant_id = tenant;
    std::string session_id = *session;
    co_return http::Response::event_stream(
        [hub_ptr, opts, tenant_id, session_id, offset, acknowledge, waker, place](http::SseWriter& w) -> asio::awaitable<void> {
          const std::string_view error_event = "error";
          const std::string_view update_event = "update";
          waker->set(w.waker());
          std::int64_t next = offset;
          bool ack = acknowledge;
          while (w.open()) {
            asio::awaitable<Result<std::vector<store::StoredUpdate>>> read =
                hub_ptr->poll(tenant_id, next, opts.stream_page, session_id, std::chrono::milliseconds(0),
                              DeliveryChannel::stream, ack);
            Result<std::vector<store::StoredUpdate>> page = co_await std::move(read);
            ack = false;
            if (!page) {
              const std::string failure = error_data(page.error());
              co_await w.send(error_event, failure);
              co_return;
            }
            for (const auto& u : *page) {
              const std::string data = update_json_text(u);
              const std::string id = std::to_string(u.update_id);
              if (!co_await w.send(update_event, data, id)) co_return;
              next = u.update_id + 1;
            }
            if (page->size() == opts.stream_page) continue;  // more to send
            if (!co_await w.wait(opts.stream_wait)) co_return;
          }
        });
  }
};

UpdateRoutes::UpdateRoutes(UpdateHub& hub, TenantGate gate, UpdateRoutesOptions options)
    : impl_(std::make_shared<Impl>(Impl{hub, std::move(gate), options})) {}

void UpdateRoutes::add_to(http::Router& router) {
  using Member = asio::awaitable<http::Response> (Impl::*)(http::Request&);
  auto add = [&](bhttp::verb verb, std::string_view pattern, Member member) {
    router.add(verb, pattern, [impl = impl_, member](http::Request& r) { return ((*impl).*member)(r); });
  };
  add(bhttp::verb::get, "/v1/updates", &Impl::get_updates);
  add(bhttp::verb::get, "/v1/updates/stream", &Impl::stream);
  add(bhttp::verb::get, "/v1/updates/settings", &Impl::get_settings);
  add(bhttp::verb::put, "/v1/updates/settings", &Impl::put_settings);
}

}  // namespace tgpulse::updates
