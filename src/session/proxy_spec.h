// ProxySpec: the proxy one session's TDLib client connects through — given when a login starts
// (`proxy` in POST /v1/qr-logins and /v1/phone-logins) or later (PUT /v1/sessions/{id}/proxy) — parsed
// and bounded from the tenant's JSON before anything copies it, and turned into TDLib's `proxy` object.
//
//   {"type": "socks5" | "http" | "mtproto", "server": host, "port": 1-65535,
//    "username"?, "password"? (socks5, http), "http_only"? (http), "secret"? (mtproto, required)}
//
// The password and the secret are credentials: they go to TDLib only (which keeps them in the session's
// encrypted database), never into a view, a log line, a span or an error message. view() shows the rest.
//
// Thread-safety: a value type.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace tgpulse::session {

struct ProxySpec {
  enum class Type { socks5, http, mtproto };
  Type type = Type::socks5;
  std::string server;
  int port = 0;
  std::string username;
  std::string password;  // secret
  bool http_only = false;
  std::string secret;    // secret (mtproto)

  // The tenant's object, checked: invalid_argument naming the field ("proxy.port must be ..."), never
  // repeating a credential.
  static Result<ProxySpec> parse(const nlohmann::json& j);
  // TDLib's own `proxy` object (from getProxies: a restored session's enabled proxy), under the same
  // rules as parse(); invalid_argument when it is not one.
  static Result<ProxySpec> from_td(const nlohmann::json& td_proxy);
  // TDLib's `proxy` object (td_api.tl: proxy server:string port:int32 type:ProxyType).
  nlohmann::json td_proxy() const;
  // What the API shows: {type, server, port, has_credentials}.
  nlohmann::json view() const;
  static const char* type_name(Type t) noexcept;

  bool operator==(const ProxySpec&) const = default;
};

}  // namespace tgpulse::session
