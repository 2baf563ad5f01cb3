#include "tdsim/proxy_list.h"

#include <algorithm>

namespace tgpulse::tdsim {

using nlohmann::json;

namespace {

bool is_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

bool is_base64url(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '+' || c == '/' || c == '=';
  });
}

bool valid_secret(const std::string& s) {
  if (is_hex(s) && s.size() % 2 == 0) {
    if (s.size() == 32) return true;
    if (s.size() == 34 && (s.compare(0, 2, "dd") == 0 || s.compare(0, 2, "DD") == 0)) return true;
    if (s.size() > 34 && (s.compare(0, 2, "ee") == 0 || s.compare(0, 2, "EE") == 0)) return true;
    return false;
  }
  return s.size() >= 22 && is_base64url(s);  // 16 bytes or more
}

std::string text(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<json> ProxyList::read_proxy(const json& proxy) {
  if (!proxy.is_object()) return Error(Errc::invalid_argument, "Proxy must be non-empty");
  auto type = proxy.find("type");
  if (type == proxy.end() || !type->is_object()) return Error(Errc::invalid_argument, "Proxy type must be non-empty");
  const std::string server = text(proxy, "server");
  if (server.empty()) return Error(Errc::invalid_argument, "Server name must be non-empty");
  auto port_field = proxy.find("port");
  const std::int64_t port = port_field != proxy.end() && port_field->is_number_integer() ? port_field->get<std::int64_t>() : 0;
  if (port <= 0 || port > 65535) return Error(Errc::invalid_argument, "Wrong port number");
  const std::string kind = text(*type, "@type");
  json normalized_type = {{"@type", kind}};
  if (kind == "proxyTypeMtproto") {
    const std::string secret = text(*type, "secret");
    if (!valid_secret(secret)) return Error(Errc::invalid_argument, "Wrong proxy secret");
    normalized_type["secret"] = secret;
  } else {
    normalized_type["username"] = text(*type, "username");
    normalized_type["password"] = text(*type, "password");
    if (kind == "proxyTypeHttp") normalized_type["http_only"] = type->value("http_only", false);
  }
  return json{{"@type", "proxy"}, {"server", server}, {"port", port}, {"type", std::move(normalized_type)}};
}

std::string ProxyList::address(const json& proxy) {
  return proxy["server"].get<std::string>() + ":" + std::to_string(proxy["port"].get<int>());
}

Result<json> ProxyList::add(const json& proxy, bool enable, std::string comment) {
  auto read = read_proxy(proxy);
  if (!read.ok()) return read.error();
  if (proxies_.size() >= kMaxProxies) return Error(Errc::invalid_argument, "Too many proxies");
  if (enable) disable();
  proxies_.push_back(SimProxy{next_id_++, std::move(read.value()), std::move(comment), enable});
  return added_proxy(proxies_.back());
}

bool ProxyList::enable(int id) {
  auto it = std::find_if(proxies_.begin(), proxies_.end(), [&](const SimProxy& p) { return p.id == id; });
  if (it == proxies_.end()) return false;
  disable();
  it->enabled = true;
  return true;
}

bool ProxyList::remove(int id) {
  auto it = std::find_if(proxies_.begin(), proxies_.end(), [&](const SimProxy& p) { return p.id == id; });
  if (it == proxies_.end()) return false;
  proxies_.erase(it);
  return true;
}

void ProxyList::disable() {
  for (auto& p : proxies_) p.enabled = false;
}

const SimProxy* ProxyList::enabled() const {
  auto it = std::find_if(proxies_.begin(), proxies_.end(), [](const SimProxy& p) { return p.enabled; });
  return it == proxies_.end() ? nullptr : &*it;
}

json ProxyList::added_proxies() const {
  json list = json::array();
  for (const auto& p : proxies_) list.push_back(added_proxy(p));
  return {{"@type", "addedProxies"}, {"proxies", std::move(list)}};
}

json ProxyList::added_proxy(const SimProxy& p) {
  return {{"@type", "addedProxy"}, {"id", p.id}, {"last_used_date", 0}, {"is_enabled", p.enabled},
          {"comment", p.comment}, {"proxy", p.proxy}};
}

}  // namespace tgpulse::tdsim
