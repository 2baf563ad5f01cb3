// TdEngineClientFactory: EngineClientFactory on the td area's Engine — each EngineClient is a
// td::TdClient whose updateAuthorizationState updates are handed to the session layer.
//
// Thread-safety: thread-safe (the Engine is). The Engine must outlive every client created here.
#pragma once

#include "session/engine_client.h"
#include "td/engine.h"

namespace tgpulse::session {

class TdEngineClientFactory final : public EngineClientFactory {
 public:
  explicit TdEngineClientFactory(td::Engine& engine) : engine_(engine) {}
  Result<std::unique_ptr<EngineClient>> create(const EngineClientSpec& spec) override;

 private:
  td::Engine& engine_;
};

}  // namespace tgpulse::session
