// ProxyList: one client's proxies as TDLib 1.8.67 keeps them (addProxy, enableProxy, disableProxy,
// removeProxy, getProxies): td_api.tl's `proxy {server, port, type}` objects with ids, at most one
// enabled, and TDLib's checks and error messages for a proxy:
//   null proxy             "Proxy must be non-empty"
//   null type              "Proxy type must be non-empty"
//   empty server           "Server name must be non-empty"
//   port outside 1..65535  "Wrong port number"
//   bad MTProto secret     "Wrong proxy secret" (hex: 32 digits, "dd" + 32, "ee" + 32 + domain; or
//                          base64url of at least 16 bytes — a simplification of TDLib's parser)
//   unknown id             "Unknown proxy identifier"
// Ids start at 2, as the real library's first proxy on a new database gets 2.
//
// Thread-safety: none; owned by a SimClient and touched under the Simulator's lock.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace tgpulse::tdsim {

struct SimProxy {
  int id = 0;
  nlohmann::json proxy;  // td_api.tl proxy {server, port, type}, every field of the type present
  std::string comment;
  bool enabled = false;
};

class ProxyList {
 public:
  // A client keeps at most this many proxies; addProxy beyond answers 400 "Too many proxies".
  static constexpr std::size_t kMaxProxies = 256;

  // TDLib's checks of a td_api proxy object; the object with every field of its type filled in, or
  // Errc::invalid_argument with TDLib's message.
  static Result<nlohmann::json> read_proxy(const nlohmann::json& proxy);
  // "server:port" of a proxy read_proxy accepted: the address the control interface marks reachable or not.
  static std::string address(const nlohmann::json& proxy);

  // addProxy: the addedProxy, or TDLib's error message.
  Result<nlohmann::json> add(const nlohmann::json& proxy, bool enable, std::string comment);
  bool enable(int id);  // false: unknown id
  bool remove(int id);  // false: unknown id
  void disable();
  const SimProxy* enabled() const;
  nlohmann::json added_proxies() const;  // getProxies' addedProxies
  static nlohmann::json added_proxy(const SimProxy& p);

 private:
  std::vector<SimProxy> proxies_;
  int next_id_ = 2;
};

}  // namespace tgpulse::tdsim
