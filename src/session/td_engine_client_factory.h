// TdEngineClientFactory: EngineClientFactory on the td area's Engine — each EngineClient is a
// td::TdClient whose updateAuthorizationState updates are handed to the session layer, and every update
// of which goes to the UpdateSink (the tenant's update log) when one is given.
//
// Thread-safety: thread-safe (the Engine is). The Engine must outlive every client created here.
#pragma once

#include "session/engine_client.h"
#include "td/engine.h"

namespace tgpulse::session {

class TdEngineClientFactory final : public EngineClientFactory {
 public:
  // `updates` may be null (no update log); it must outlive every client created here.
  explicit TdEngineClientFactory(td::Engine& engine, UpdateSink* updates = nullptr) : engine_(engine), updates_(updates) {}
  Result<std::unique_ptr<EngineClient>> create(const EngineClientSpec& spec) override;

 private:
  td::Engine& engine_;
  UpdateSink* updates_;
};

}  // namespace tgpulse::session
