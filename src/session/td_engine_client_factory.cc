#include "session/td_engine_client_factory.h"

#include <mutex>

#include "td/td_codec.h"

namespace asio = boost::asio;
using nlohmann::json;

namespace tgpulse::session {

namespace {

// One TDLib client as the session layer sees it. The handler slot is shared with the TdClient's update
// handler, which may run on the client's strand while the session replaces or clears it.
class TdEngineClient final : public EngineClient {
 public:
  struct Slot {
    std::mutex mu;
    AuthorizationStateHandler handler;
  };

  TdEngineClient(std::shared_ptr<td::TdClient> client, std::shared_ptr<Slot> slot)
      : client_(std::move(client)), slot_(std::move(slot)) {}
  ~TdEngineClient() override {
    client_->set_update_handler({});
    client_->cancel_pending(Error(Errc::cancelled, "session client released"));
  }

  asio::awaitable<Result<json>> send(json request, std::chrono::milliseconds timeout) override {
    co_return co_await client_->send(std::move(request), timeout);
  }

  void on_authorization_state(AuthorizationStateHandler handler) override {
    std::lock_guard lock(slot_->mu);
    slot_->handler = std::move(handler);
  }

 private:
  std::shared_ptr<td::TdClient> client_;
  std::shared_ptr<Slot> slot_;
};

}  // namespace

Result<std::unique_ptr<EngineClient>> TdEngineClientFactory::create(const EngineClientSpec& spec) {
  auto slot = std::make_shared<TdEngineClient::Slot>();
  Result<std::shared_ptr<td::TdClient>> client = engine_.create_client(
      [slot, sink = updates_, tenant_id = spec.tenant_id, session_id = spec.session_id](const json& update) {
    if (sink != nullptr) sink->accept(tenant_id, session_id, update);
    if (td::TdCodec::type_of(update) != "updateAuthorizationState") return;  // a view: no copy per update
    auto it = update.find("authorization_state");
    if (it == update.end() || !it->is_object()) return;
    EngineClient::AuthorizationStateHandler handler;
    {
      std::lock_guard lock(slot->mu);
      handler = slot->handler;
    }
    if (handler) handler(*it);
  }, td::ClientOwner{spec.tenant_id, spec.session_id});
  if (!client) return client.error();
  return std::unique_ptr<EngineClient>(std::make_unique<TdEngineClient>(std::move(*client), std::move(slot)));
}

}  // namespace tgpulse::session
