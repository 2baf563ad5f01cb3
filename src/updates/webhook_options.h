// WebhookOptions: how webhook deliveries are made — the address policy, the client's timeouts and read
// bound, the retry policy. Part of UpdatesOptions (UpdatesOptions::webhook); allow_private and
// total_timeout are configuration keys (updates.webhook_allow_private, updates.webhook_timeout), the
// rest are the defaults documented here. retry.max_age follows updates.max_age.
//
// Thread-safety: a value type.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "updates/webhook_retry_policy.h"

namespace tgpulse::updates {

struct WebhookOptions {
  // updates.webhook_allow_private: also dial loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
  // shared (100.64/10) and link-local (169.254/16, fe80::/10) addresses. Default false: a tenant's URL
  // cannot reach the service's host, its network or a cloud metadata endpoint. Tests turn it on.
  bool allow_private = false;
  std::chrono::milliseconds resolve_timeout{5000};  // name resolution
  std::chrono::milliseconds connect_timeout{5000};  // TCP connect (all of the checked addresses)
  // updates.webhook_timeout: one POST from resolution to the response head (a hanging receiver costs
  // at most this per attempt). Default 10 s. 1 s..60 s.
  std::chrono::milliseconds total_timeout{10000};
  std::size_t max_response_head_bytes = 16 * 1024;  // the status line and headers; the body is never read
  // https: the receiver's certificate must chain to the system's trusted CAs (and to this PEM file
  // too, when set: tests and private CAs) and name the URL's host.
  std::string extra_ca_file;
  WebhookRetryOptions retry;

  bool operator==(const WebhookOptions&) const = default;
};

}  // namespace tgpulse::updates
