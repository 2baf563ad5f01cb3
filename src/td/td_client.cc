#include "td/td_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "td/engine_context.h"

namespace tgpulse::td {

namespace asio = boost::asio;
using nlohmann::json;

struct TdClient::Pending {
  explicit Pending(const Strand& strand) : timer(strand) {}
  asio::steady_timer timer;                         // touched only on the client's strand
  std::optional<Result<json>> result;               // guarded by TdClient::mutex_
  std::chrono::steady_clock::time_point received{}; // guarded by TdClient::mutex_
  json caller_extra;                                // the caller's own "@extra", restored in the answer
};

TdClient::TdClient(std::shared_ptr<EngineContext> context, int id, Strand strand, UpdateHandler handler,
                   ClientOwner owner)
    : context_(std::move(context)),
      id_(id),
      owner_(std::move(owner)),
      strand_(std::move(strand)),
      handler_(std::make_shared<const UpdateHandler>(std::move(handler))) {}

TdClient::~TdClient() = default;

asio::awaitable<Result<json>> TdClient::send(json request) {
  co_return co_await send(std::move(request), context_->default_timeout);
}

asio::awaitable<Result<json>> TdClient::send(json request, std::chrono::milliseconds timeout) {
  if (strand_.running_in_this_thread()) {
    auto result = co_await send_on_strand(std::move(request), timeout);
    co_return std::move(*result);
  }
  // Named first: no temporary awaitable inside the co_await expression (docs/architecture.md).
  asio::awaitable<std::optional<Result<json>>> job = send_on_strand(std::move(request), timeout);
  auto result = co_await asio::co_spawn(strand_, std::move(job), asio::use_awaitable);
  co_return std::move(*result);
}

asio::awaitable<std::optional<Result<json>>> TdClient::send_on_strand(json request,
                                                                       std::chrono::milliseconds timeout) {
  auto self = shared_from_this();  // keeps the client alive while the request is in flight
  EngineContext& ctx = *context_;
  const std::string method(TdCodec::type_of(request));
  if (method.empty()) {
    co_return Result<json>(Errc::invalid_argument, "TDLib request has no string \"@type\"");
  }
  const auto& method_metrics = ctx.telethon->method(method);
  // <ns>_requests_total counts what reached Telegram: requests handed to TDLib (finish; not those
  // refused before, refuse) whose function TDLib does not answer by itself.
  const bool reaches_telegram = !TdCodec::is_local_function(method);
  const auto started = std::chrono::steady_clock::now();
  auto refuse = [](Error e) { return std::optional<Result<json>>(Result<json>(std::move(e))); };
  auto finish = [&](Result<json> r) -> std::optional<Result<json>> {
    ctx.duration_for(method).observe(EngineContext::seconds_since(started));
    if (!reaches_telegram) return std::optional<Result<json>>(std::move(r));
    if (r.ok()) {
      method_metrics.requests_success->inc();
    } else if (r.error().code == Errc::flood_wait) {
      method_metrics.requests_flood_wait->inc();
    } else {
      method_metrics.requests_failed->inc();
    }
    return std::optional<Result<json>>(std::move(r));
  };

  if (closed() || !ctx.running.load(std::memory_order_acquire)) {
    co_return refuse(Error(Errc::unavailable, "TDLib client " + std::to_string(id_) + " is closed"));
  }
  auto pending = std::make_shared<Pending>(strand_);
  const std::uint64_t extra = ctx.next_extra.fetch_add(1, std::memory_order_relaxed);
  if (auto it = request.find("@extra"); it != request.end()) {
    pending->caller_extra = std::move(*it);
  }
  request["@extra"] = extra;
  std::string text;
  try {
    text = request.dump();
  } catch (const json::exception& e) {
    co_return refuse(Error(Errc::invalid_argument, std::string("TDLib request cannot be encoded: ") + e.what()));
  }
  {
    std::lock_guard lock(mutex_);
    if (closed()) {
      co_return refuse(Error(Errc::unavailable, "TDLib client " + std::to_string(id_) + " is closed"));
    }
    pending_.emplace(extra, pending);
  }
  pending->timer.expires_after(timeout);
  ctx.library->send(id_, text.c_str());

  boost::system::error_code ec;
  co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));

  std::optional<Result<json>> outcome;
  std::chrono::steady_clock::time_point received{};
  {
    std::lock_guard lock(mutex_);
    if (pending->result) {
      outcome = std::move(pending->result);
      received = pending->received;
    } else {
      pending_.erase(extra);  // the timer won: a late answer will find no waiter
    }
  }
  if (!outcome) {
    co_return finish(Error(Errc::timeout, method + " got no answer within " +
                                              std::to_string(timeout.count()) + " ms"));
  }
  if (received != std::chrono::steady_clock::time_point{}) {
    ctx.receive_lag->observe(EngineContext::seconds_since(received));
  }
  co_return finish(std::move(*outcome));
}

bool TdClient::complete(std::uint64_t extra, json answer, std::chrono::steady_clock::time_point received) {
  std::shared_ptr<Pending> pending;
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(extra);
    if (it == pending_.end()) return false;
    pending = std::move(it->second);
    pending_.erase(it);
  }
  // Built outside the lock; nobody else can reach `pending->result` now that it left the map.
  std::optional<Result<json>> result;
  if (TdCodec::is_error(answer)) {
    result.emplace(TdCodec::error_from(answer));
  } else {
    answer.erase("@client_id");
    if (pending->caller_extra.is_null()) {
      answer.erase("@extra");
    } else {
      answer["@extra"] = std::move(pending->caller_extra);
    }
    result.emplace(std::move(answer));
  }
  {
    std::lock_guard lock(mutex_);
    pending->result = std::move(result);
    pending->received = received;
  }
  asio::post(strand_, [pending] { pending->timer.cancel(); });
  return true;
}

void TdClient::deliver_update(json update, std::chrono::steady_clock::time_point received) {
  std::shared_ptr<const UpdateHandler> handler;
  {
    std::lock_guard lock(mutex_);
    handler = handler_;
  }
  if (!handler || !*handler) return;
  asio::post(strand_, [self = shared_from_this(), handler = std::move(handler), update = std::move(update),
                       received] {
    self->context_->receive_lag->observe(EngineContext::seconds_since(received));
    (*handler)(update);
  });
}

void TdClient::set_update_handler(UpdateHandler handler) {
  auto h = std::make_shared<const UpdateHandler>(std::move(handler));
  std::lock_guard lock(mutex_);
  handler_ = std::move(h);
}

json TdClient::authorization_state_object() const {
  std::lock_guard lock(mutex_);
  return state_object_;
}

void TdClient::cancel_pending(const Error& why) {
  std::unordered_map<std::uint64_t, std::shared_ptr<Pending>> taken;
  {
    std::lock_guard lock(mutex_);
    taken.swap(pending_);
    for (auto& [extra, pending] : taken) {
      pending->result.emplace(why);
    }
  }
  for (auto& [extra, pending] : taken) {
    asio::post(strand_, [p = pending] { p->timer.cancel(); });
  }
}

std::size_t TdClient::pending_count() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

void TdClient::mark_closed(const Error& why) {
  {
    std::lock_guard lock(mutex_);
    closed_.store(true, std::memory_order_release);
  }
  cancel_pending(why);
}

}  // namespace tgpulse::td
