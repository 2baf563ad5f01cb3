// UpdateRoutes: the tenant's update log over HTTP (docs/api.md, "Updates"):
//   GET /v1/updates?offset=N&limit=L&timeout=S[&session_id=…]   long polling; offset acknowledges below it
//   GET /v1/updates/stream[?offset=N][&session_id=…]            Server-Sent Events, id: = update_id;
//                                                                Last-Event-ID resumes (and acknowledges)
//   GET /v1/updates/settings, PUT /v1/updates/settings           {"allowed_updates": [...]}
// Authentication, the tenant's request quota and their refusals are the session routes' (TenantGate).
// Another tenant's updates are never visible: every read is by the caller's tenant; a session_id that
// is not the caller's answers 404 exactly like one that does not exist.
//
// Thread-safety: add_to() at start-up; handlers are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "http/caller.h"
#include "http/request.h"
#include "http/response.h"
#include "http/router.h"
#include "http/sse_writer.h"
#include "updates/update_hub.h"

namespace tgpulse::updates {

// How the update routes authenticate, as every tenant route does (SessionRoutes::tenant_gate()).
struct TenantGate {
  // The caller's tenant id, or the answer to refuse with (401, 429 auth_failures or tenant quota, 503
  // store pool full).
  std::function<boost::asio::awaitable<http::Caller>(const http::Request&)> tenant_of;
  // The request body as a bounded JSON object (400 invalid_argument otherwise; over-bounds counted).
  std::function<Result<nlohmann::json>(const http::Request&)> body_object;
  // Ok when the tenant has a session with this id (live or not yet cleaned up); not_found otherwise.
  std::function<boost::asio::awaitable<Status>(std::string tenant_id, std::string session_id)> owns_session;
};

struct UpdateRoutesOptions {
  // How long a stream waits for news before it looks again (heartbeats in between). Default 15 s.
  std::chrono::milliseconds stream_wait{std::chrono::seconds(15)};
  // Updates per stream read. Default 100.
  std::size_t stream_page = 100;
};

class UpdateRoutes {
 public:
  UpdateRoutes(UpdateHub& hub, TenantGate gate, UpdateRoutesOptions options = {});
  void add_to(http::Router& router);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The JSON of one update as the routes answer it: {update_id, session_id, received_at, update}.
nlohmann::json update_json(const store::StoredUpdate& u);
// The same as compact JSON text, built without parsing the stored payload (the routes' hot path; the
// payload is the JSON text the hub wrote).
std::string update_json_text(const store::StoredUpdate& u);

}  // namespace tgpulse::updates
