#include "session/fake_engine.h"

namespace asio = boost::asio;
using nlohmann::json;

namespace tgpulse::session {

class FakeEngine::Client final : public EngineClient {
 public:
  Client(FakeEngine& engine, std::shared_ptr<ClientState> state, std::size_t index)
      : engine_(engine), state_(std::move(state)), index_(index) {}
  ~Client() override { state_->destroyed = true; }

  asio::awaitable<Result<json>> send(json request, std::chrono::milliseconds) override {
    state_->sent.push_back(request);
    if (engine_.responder_) {
      if (auto answer = engine_.responder_(request)) co_return *answer;
    }
    const std::string type = request.value("@type", "");
    if (type == "setTdlibParameters") {
      bool authorized = engine_.authorized_dirs_.count(request.value("database_directory", "")) != 0;
      emit(json{{"@type", authorized ? "authorizationStateReady" : "authorizationStateWaitPhoneNumber"}});
    } else if (type == "requestQrCodeAuthentication") {
      emit(json{{"@type", "authorizationStateWaitOtherDeviceConfirmation"}, {"link", link_for(index_, 1)}});
    } else if (type == "setAuthenticationPhoneNumber") {
      // TDLib reports the new state before it answers the request.
      emit(code_state("authenticationCodeTypeTelegramMessage", "authenticationCodeTypeSms"));
    } else if (type == "resendAuthenticationCode") {
      emit(code_state("authenticationCodeTypeSms", ""));
    } else if (type == "addProxy") {
      const int id = static_cast<int>(state_->proxies.size()) + 2;  // TDLib's first id on a new database
      state_->proxies.push_back({{"@type", "addedProxy"}, {"id", id}, {"is_enabled", true}, {"proxy", request["proxy"]}});
      co_return state_->proxies.back();
    } else if (type == "getProxies") {
      co_return json{{"@type", "addedProxies"}, {"proxies", state_->proxies}};
    } else if (type == "removeProxy") {
      auto& list = state_->proxies;
      for (auto it = list.begin(); it != list.end(); ++it) {
        if ((*it)["id"] == request["proxy_id"]) {
          list.erase(it);
          break;
        }
      }
    } else if (type == "pingProxy") {
      co_return json{{"@type", "seconds"}, {"seconds", 0.042}};
    } else if (type == "logOut" || type == "close") {
      if (engine_.close_reaches_closed_) {
        emit(json{{"@type", type == "logOut" ? "authorizationStateLoggingOut" : "authorizationStateClosing"}});
        emit(json{{"@type", "authorizationStateClosed"}});
      }
    }
    co_return json{{"@type", "ok"}};
  }

  void on_authorization_state(AuthorizationStateHandler handler) override { state_->handler = std::move(handler); }

  static json code_state(const char* type, const char* next) {
    json info = {{"@type", "authenticationCodeInfo"},
                 {"phone_number", kPhoneNumber},
                 {"type", {{"@type", type}, {"length", 5}}},
                 {"next_type", *next ? json{{"@type", next}, {"length", 5}} : json(nullptr)},
                 {"timeout", 60}};
    return json{{"@type", "authorizationStateWaitCode"}, {"code_info", info}};
  }

 private:
  void emit(const json& s) {
    if (state_->handler) state_->handler(s);
  }
  FakeEngine& engine_;
  std::shared_ptr<ClientState> state_;
  std::size_t index_;
};

Result<std::unique_ptr<EngineClient>> FakeEngine::create(const EngineClientSpec& spec) {
  if (fail_create_) return Error(Errc::unavailable, "engine stopped");
  auto state = std::make_shared<ClientState>();
  state->directory = spec.database_directory;
  clients_.push_back(state);
  return std::unique_ptr<EngineClient>(std::make_unique<Client>(*this, state, clients_.size() - 1));
}

void FakeEngine::emit(const json& state, std::optional<std::size_t> index) {
  ClientState& c = index ? client(*index) : last();
  if (c.handler) c.handler(state);
}

}  // namespace tgpulse::session
