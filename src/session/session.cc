#include "session/session.h"

#include "store/tenant_tokens.h"

#include <algorithm>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;

namespace tgpulse::session {

const char* session_status_name(SessionStatus s) noexcept {
  switch (s) {
    case SessionStatus::qr_pending: return "qr_pending";
    case SessionStatus::phone_number_required: return "phone_number_required";
    case SessionStatus::code_required: return "code_required";
    case SessionStatus::password_required: return "password_required";
    case SessionStatus::authorized: return "authorized";
    case SessionStatus::expired: return "expired";
    case SessionStatus::failed: return "failed";
    case SessionStatus::cleaning_up: return "cleaning_up";
    case SessionStatus::closed: return "closed";
    case SessionStatus::restoring: return "restoring";
  }
  return "unknown";
}

bool is_login_status(SessionStatus s) noexcept {
  return s == SessionStatus::qr_pending || s == SessionStatus::phone_number_required ||
         s == SessionStatus::code_required || s == SessionStatus::password_required;
}

const char* login_method_name(LoginMethod m) noexcept { return m == LoginMethod::phone ? "phone" : "qr"; }

std::int64_t unix_ms(Clock::WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Clock::WallTime from_unix_ms(std::int64_t ms) {
  return Clock::WallTime(std::chrono::duration_cast<Clock::WallTime::duration>(std::chrono::milliseconds(ms)));
}

Session::Session(asio::any_io_executor executor, const Clock& clock, std::string id, std::string tenant_id,
                 std::string page_key_hash, Clock::WallTime created_at, Clock::WallTime expires_at)
    : clock_(clock),
      id_(std::move(id)),
      tenant_id_(std::move(tenant_id)),
      page_key_hash_(std::move(page_key_hash)),
      strand_(asio::make_strand(executor)),
      wake_timer_(strand_) {
  view_.id = id_;
  view_.tenant_id = tenant_id_;
  view_.created_at = created_at;
  view_.expires_at = expires_at;
  view_.last_used_at = created_at;
}

bool Session::key_matches(std::string_view key) const {
  if (page_key_hash_.empty() || key.empty()) return false;
  return store::TenantTokens::verify(key, page_key_hash_);
}

void Session::set_client(std::unique_ptr<EngineClient> client) {
  client_ = std::move(client);
  if (!client_) return;
  std::weak_ptr<Session> weak = weak_from_this();
  client_->on_authorization_state([weak](const nlohmann::json& state) {
    if (auto self = weak.lock()) {
      SessionSignal s;
      s.kind = SessionSignal::Kind::authorization_state;
      s.state = state;
      self->deliver(std::move(s));
    }
  });
}

void Session::drop_client() {
  if (!client_) return;
  client_->on_authorization_state({});
  client_.reset();
}

asio::awaitable<std::optional<SessionSignal>> Session::next_signal(Clock::TimePoint deadline,
                                                                    std::chrono::milliseconds wake_interval) {
  while (inbox_.empty()) {
    auto now = clock_.now();
    if (now >= deadline) co_return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - now);
    wake_timer_.expires_after(std::min<std::chrono::steady_clock::duration>(left, wake_interval));
    boost::system::error_code ec;  // operation_aborted = woken by deliver()/wake()
    co_await wake_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  SessionSignal s = std::move(inbox_.front());
  inbox_.pop_front();
  co_return s;
}

namespace {

// Runs on the session's strand; the answer goes to *out (asio's co_spawn needs a default-constructible
// result, which Result<T> is not).
asio::awaitable<void> send_on_strand(std::shared_ptr<Session> self, nlohmann::json request,
                                     std::chrono::milliseconds timeout,
                                     std::shared_ptr<std::optional<Result<nlohmann::json>>> out) {
  EngineClient* c = self->client();
  if (c == nullptr) {
    *out = Result<nlohmann::json>(Errc::unavailable, "the session has no engine client");
    co_return;
  }
  *out = co_await c->send(std::move(request), timeout);
}

}  // namespace

asio::awaitable<Result<nlohmann::json>> Session::send(nlohmann::json request, std::chrono::milliseconds timeout) {
  auto out = std::make_shared<std::optional<Result<nlohmann::json>>>();
  // Named first: no temporary (the shared_ptr, the awaitable) inside the co_await expression.
  asio::awaitable<void> job = send_on_strand(shared_from_this(), std::move(request), timeout, out);
  co_await asio::co_spawn(strand_, std::move(job), asio::use_awaitable);
  if (!out->has_value()) co_return Error(Errc::internal, "the session send did not complete");
  co_return std::move(**out);
}

void Session::deliver(SessionSignal signal) {
  asio::post(strand_, [self = shared_from_this(), s = std::move(signal)]() mutable {
    if (self->inbox_closed_) {
      if (s.done) s.done(Status(Errc::not_found, "no such session"));
      return;
    }
    self->inbox_.push_back(std::move(s));
    self->wake_timer_.cancel();
  });
}

void Session::close_inbox() {
  inbox_closed_ = true;
  for (SessionSignal& s : inbox_) {
    if (s.done) s.done(Status(Errc::not_found, "no such session"));
  }
  inbox_.clear();
}

void Session::wake() {
  asio::post(strand_, [self = shared_from_this()] { self->wake_timer_.cancel(); });
}

SessionView Session::view() const {
  std::lock_guard lock(mu_);
  return view_;
}

void Session::publish(const std::function<void(SessionView&)>& update, const SessionEvent& event) {
  std::vector<Listener> to_call;
  {
    std::lock_guard lock(mu_);
    if (update) update(view_);
    if (!event.type.empty()) {
      to_call.reserve(listeners_.size());
      for (const auto& [lid, l] : listeners_) to_call.push_back(l);
    }
  }
  for (const auto& l : to_call) l(event);
}

std::pair<std::uint64_t, SessionView> Session::subscribe(Listener listener) {
  std::lock_guard lock(mu_);
  std::uint64_t lid = next_listener_++;
  listeners_.emplace(lid, std::move(listener));
  return {lid, view_};
}

void Session::unsubscribe(std::uint64_t lid) {
  std::lock_guard lock(mu_);
  listeners_.erase(lid);
}

Session::ProxyState Session::proxy_state() const {
  std::lock_guard lock(mu_);
  return proxy_;
}

void Session::update_proxy_state(const std::function<void(ProxyState&)>& update) {
  std::lock_guard lock(mu_);
  update(proxy_);
}

Clock::WallTime Session::touch() {
  std::lock_guard lock(mu_);
  view_.last_used_at = clock_.wall();
  return view_.last_used_at;
}

}  // namespace tgpulse::session
