// EngineClient: the session layer's narrow view of one Telegram engine client (one TDLib client = one
// database directory). The td area's TdClient is adapted to it by EngineClientFactory implementations;
// the tests use a scripted fake. Keeping the boundary this small lets the QR login, the session manager
// and the cleanup run on a FakeClock without a real engine.
//
// Thread-safety: send() may be called from any thread or strand; the authorization-state handler is
// called on an engine thread (implementations must not call it concurrently with itself), so receivers
// post it to their own strand.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/result.h"

namespace tgpulse::session {

class EngineClient {
 public:
  using AuthorizationStateHandler = std::function<void(const nlohmann::json& authorization_state)>;

  virtual ~EngineClient() = default;
  // Sends one TDLib function object and returns its answer: the object, or an Error (engine_error with
  // td_code for TDLib errors, timeout when `timeout` passed first, unavailable once the client closed).
  virtual boost::asio::awaitable<Result<nlohmann::json>> send(nlohmann::json request,
                                                             std::chrono::milliseconds timeout) = 0;
  // Sets the receiver of every `updateAuthorizationState.authorization_state` object of this client,
  // in engine order. Replaces any earlier handler; an empty function detaches it.
  virtual void on_authorization_state(AuthorizationStateHandler handler) = 0;
};

// Receives every update object a session's engine client emits, and the service's own events about
// the session (tgpulseSession*, tgpulseQrLoginExpired), for the tenant's update log (src/updates/).
// accept() is called on engine strands and session threads: it must not block (a bounded queue).
//
// Thread-safety: implementations are thread-safe.
class UpdateSink {
 public:
  virtual ~UpdateSink() = default;
  virtual void accept(const std::string& tenant_id, const std::string& session_id, const nlohmann::json& update) = 0;
  // The tenant was deleted (its log went with its record): drop what is kept of it in memory, so a
  // tenant created later under the same id starts from the defaults.
  virtual void forget_tenant(const std::string& tenant_id) = 0;
};

// Where a client's database lives and how it is encrypted.
struct EngineClientSpec {
  std::string database_directory;  // <data_dir>/sessions/<session_id>
  std::string tenant_id;           // whom the client works for: what the engine logs about it (absorbed
  std::string session_id;          // FloodWaits) names them
};

// Creates engine clients. A new client starts in authorizationStateWaitTdlibParameters.
//
// Thread-safety: thread-safe.
class EngineClientFactory {
 public:
  virtual ~EngineClientFactory() = default;
  virtual Result<std::unique_ptr<EngineClient>> create(const EngineClientSpec& spec) = 0;
};

}  // namespace tgpulse::session
