// WebhookRoutes: a tenant's webhook over HTTP (docs/api.md#webhooks):
//   PUT    /v1/webhook {url, secret, allowed_updates?, max_connections?}   set (or replace) it
//   GET    /v1/webhook                                                     url (query as ?…), pending count,
//                                                                          last error, max_connections,
//                                                                          allowed_updates; 404 when none
//   DELETE /v1/webhook[?drop_pending_updates=true]                         remove it (and the log)
// Authentication and the request quota are every tenant route's (TenantGate). A tenant only ever reads
// or changes its own webhook; the secret is never answered. While a webhook is set, GET /v1/updates and
// the stream answer 409 (UpdateHub::set_webhook).
//
// Thread-safety: add_to() at start-up; handlers are thread-safe.
#pragma once

#include <memory>

#include "http/router.h"
#include "updates/update_hub.h"
#include "updates/update_routes.h"
#include "updates/webhook_delivery.h"
#include "updates/webhook_resolver.h"

namespace tgpulse::updates {

class WebhookRoutes {
 public:
  // `allow_private`: updates.webhook_allow_private, checked on the URL's addresses at PUT (and again
  // at every delivery by the client). The hub, deliveries and resolver must outlive the routes.
  WebhookRoutes(UpdateHub& hub, WebhookDelivery& deliveries, WebhookResolver& resolver, bool allow_private,
                TenantGate gate);
  void add_to(http::Router& router);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tgpulse::updates
