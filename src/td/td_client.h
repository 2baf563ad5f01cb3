// TdClient: one TDLib client (= one Telegram session = one database directory), created by
// Engine::create_client(). send() is awaitable: it tags the request with a fresh numeric "@extra",
// hands it to td_send and completes with TDLib's answer, exactly once:
//   - the answer object (a caller-supplied "@extra" is put back),
//   - TDLib `error` 429 "Too Many Requests: retry after N" → Error::flood(N) (Errc::flood_wait),
//   - any other TDLib `error` → Errc::engine_error with td_code and TDLib's message,
//   - Errc::timeout when `timeout` passes first (a late answer is then dropped and counted),
//   - Errc::unavailable once the client is closed (authorizationStateClosed) or the engine stopped,
//   - Errc::cancelled when cancel_pending() is called,
//   - Errc::invalid_argument for a request without a string "@type" (not sent).
// Every send records telethon_requests_total{method,status} and tgpulse_td_request_duration_seconds.
//
// Updates of this client (every object without a pending "@extra", "update*" types) go to the update
// handler; authorizationState changes are also tracked here (authorization_state()).
//
// Thread-safety: thread-safe. send() may be awaited from a coroutine on any executor; it runs its
// bookkeeping and completes on this client's strand, and the update handler is always invoked on the
// strand (never concurrently with itself). The Engine must outlive the use of its clients.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>  // before Asio: awaitable.hpp uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>

#include "core/result.h"
#include "td/td_codec.h"

namespace tgpulse::td {

struct EngineContext;  // engine internals shared with its clients (engine.cc)

// Whom a client works for, so what TDLib logs about the client (it tags its log lines with the client
// id) can be attributed: absorbed FloodWaits carry the tenant and the session. Empty when unknown.
struct ClientOwner {
  std::string tenant_id;
  std::string session_id;
};

class TdClient : public std::enable_shared_from_this<TdClient> {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  // Receives each update object of this client, on the client's strand.
  using UpdateHandler = std::function<void(const nlohmann::json& update)>;

  ~TdClient();
  TdClient(const TdClient&) = delete;
  TdClient& operator=(const TdClient&) = delete;

  // TDLib's client id (td_create_client_id); never reused within a process.
  int id() const noexcept { return id_; }
  const ClientOwner& owner() const noexcept { return owner_; }
  const Strand& strand() const noexcept { return strand_; }

  // Sends one TDLib function object; see the header comment for the outcomes.
  boost::asio::awaitable<Result<nlohmann::json>> send(nlohmann::json request,
                                                      std::chrono::milliseconds timeout);
  // Same, with EngineOptions::default_request_timeout.
  boost::asio::awaitable<Result<nlohmann::json>> send(nlohmann::json request);

  // Replaces the update handler (an empty function drops updates). Thread-safe.
  void set_update_handler(UpdateHandler handler);

  // The latest authorization state seen from TDLib (unknown before the first update).
  AuthorizationState authorization_state() const noexcept { return state_.load(std::memory_order_acquire); }
  // The latest authorizationState object (e.g. WaitOtherDeviceConfirmation{link}, WaitPassword{hint});
  // null before the first update. Contains credentials (the QR link): never log it.
  nlohmann::json authorization_state_object() const;
  // True once authorizationStateClosed arrived or the engine stopped; send() then fails fast.
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // Completes every pending send() of this client with `why` (e.g. Errc::cancelled). Thread-safe.
  void cancel_pending(const Error& why);
  std::size_t pending_count() const;

 private:
  friend class Engine;
  struct Pending;
  TdClient(std::shared_ptr<EngineContext> context, int id, Strand strand, UpdateHandler handler, ClientOwner owner);

  boost::asio::awaitable<std::optional<Result<nlohmann::json>>> send_on_strand(
      nlohmann::json request, std::chrono::milliseconds timeout);

  // Receive thread: an answer for `extra`; false when no request waits for it.
  bool complete(std::uint64_t extra, nlohmann::json answer, std::chrono::steady_clock::time_point received);
  // Receive thread: an update (or an unmatched object) for the handler.
  void deliver_update(nlohmann::json update, std::chrono::steady_clock::time_point received);
  // Receive thread / stop(): the client is gone; pending sends fail with `why`.
  void mark_closed(const Error& why);

  std::shared_ptr<EngineContext> context_;
  const int id_;
  const ClientOwner owner_;
  Strand strand_;
  std::atomic<AuthorizationState> state_{AuthorizationState::unknown};
  std::atomic<bool> closed_{false};

  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Pending>> pending_;  // by @extra; guarded by mutex_
  std::shared_ptr<const UpdateHandler> handler_;                         // guarded by mutex_
  nlohmann::json state_object_;                                          // guarded by mutex_
};

}  // namespace tgpulse::td
