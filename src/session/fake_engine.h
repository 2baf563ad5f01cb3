// FakeEngine: the EngineClientFactory test double. Its clients answer every request at once and play
// TDLib's authorization states the way the session layer meets them: setTdlibParameters →
// WaitPhoneNumber (or Ready for a directory marked authorized), requestQrCodeAuthentication →
// WaitOtherDeviceConfirmation{link}, setAuthenticationPhoneNumber → WaitCode (Telegram message, next
// SMS), resendAuthenticationCode → WaitCode (SMS, no next type), addProxy/getProxies/removeProxy on a
// per-client list, pingProxy → 42 ms, logOut/close → Closing → Closed. Tests then drive the rest
// (scan, password, decline, lost authorization) with emit() and script answers with respond_with().
//
// Thread-safety: for single-threaded tests (one io_context run on the test thread).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "session/engine_client.h"

namespace tgpulse::session {

class FakeEngine final : public EngineClientFactory {
 public:
  // What one client saw; outlives the client so tests can inspect it after cleanup.
  struct ClientState {
    std::string directory;
    std::vector<nlohmann::json> sent;  // every request, in order
    EngineClient::AuthorizationStateHandler handler;
    bool destroyed = false;
    std::vector<nlohmann::json> proxies;  // addedProxy objects (addProxy, removeProxy, getProxies)
    std::vector<std::string> methods() const {
      std::vector<std::string> out;
      for (const auto& r : sent) out.push_back(r.value("@type", ""));
      return out;
    }
  };

  // Answer override: return a value to answer a request with it (and skip the default behaviour).
  using Responder = std::function<std::optional<Result<nlohmann::json>>(const nlohmann::json& request)>;

  Result<std::unique_ptr<EngineClient>> create(const EngineClientSpec& spec) override;

  void respond_with(Responder r) { responder_ = std::move(r); }
  void fail_create(bool fail) { fail_create_ = fail; }
  // A directory whose client comes back authorized (restore at start-up).
  void mark_authorized(const std::string& directory) { authorized_dirs_.insert(directory); }
  // Whether close/logOut lead to authorizationStateClosed (false: the engine hangs).
  void close_reaches_closed(bool v) { close_reaches_closed_ = v; }
  // Sends an authorization state to the latest client (or client `index`).
  void emit(const nlohmann::json& state, std::optional<std::size_t> index = std::nullopt);
  // The phone number every WaitCode of the fake carries back (as TDLib does), to check it goes no further.
  static constexpr const char* kPhoneNumber = "+99966 2 1234";
  // The link of a QR shown by client `index` (one link per requestQrCodeAuthentication and per refresh).
  static std::string link_for(std::size_t index, int version) {
    return "tg://login?token=fake" + std::to_string(index) + "v" + std::to_string(version);
  }

  std::size_t client_count() const { return clients_.size(); }
  ClientState& client(std::size_t index) { return *clients_.at(index); }
  ClientState& last() { return *clients_.back(); }

 private:
  class Client;
  std::vector<std::shared_ptr<ClientState>> clients_;
  Responder responder_;
  bool fail_create_ = false;
  bool close_reaches_closed_ = true;
  std::set<std::string> authorized_dirs_;
};

}  // namespace tgpulse::session
