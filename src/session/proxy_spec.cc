#include "session/proxy_spec.h"

using nlohmann::json;

namespace tgpulse::session {

namespace {

Error bad(const std::string& what) { return Error(Errc::invalid_argument, "proxy." + what); }

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == ':' || c == '_';
}

// An optional string field of at most `max` characters; nullopt-like "" when absent or null.
Result<std::string> optional_string(const json& j, const char* key, std::size_t max, bool secret) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) return bad(std::string(key) + " must be a string");
  const std::string& v = it->get_ref<const std::string&>();
  if (v.size() > max) return bad(std::string(key) + " must be at most " + std::to_string(max) + " characters");
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return bad(std::string(key) + (secret ? " must not hold control characters" : " must be printable"));
    }
  }
  return v;
}

}  // namespace

const char* ProxySpec::type_name(Type t) noexcept {
  switch (t) {
    case Type::socks5: return "socks5";
    case Type::http: return "http";
    case Type::mtproto: return "mtproto";
  }
  return "socks5";
}

Result<ProxySpec> ProxySpec::parse(const json& j) {
  if (!j.is_object()) return Error(Errc::invalid_argument, "proxy must be an object");
  for (const auto& [key, value] : j.items()) {
    if (key != "type" && key != "server" && key != "port" && key != "username" && key != "password" &&
        key != "http_only" && key != "secret") {
      return bad(key.size() <= 32 ? key + " is not a proxy field" : "<field> is not a proxy field");
    }
  }
  ProxySpec p;
  auto type = j.find("type");
  if (type == j.end() || !type->is_string()) return bad("type (socks5, http or mtproto) is required");
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "socks5") {
    p.type = Type::socks5;
  } else if (t == "http") {
    p.type = Type::http;
  } else if (t == "mtproto") {
    p.type = Type::mtproto;
  } else {
    return bad("type must be socks5, http or mtproto");
  }
  auto server = j.find("server");
  if (server == j.end() || !server->is_string()) return bad("server (a host name or address) is required");
  p.server = server->get<std::string>();
  if (p.server.empty() || p.server.size() > 253) return bad("server must be 1-253 characters");
  for (char c : p.server) {
    if (!host_char(c)) return bad("server must be a host name or an IP address");
  }
  auto port = j.find("port");
  if (port == j.end() || !port->is_number_integer()) return bad("port (an integer 1-65535) is required");
  const auto n = port->get<std::int64_t>();
  if (n < 1 || n > 65535) return bad("port must be 1-65535");
  p.port = static_cast<int>(n);

  Result<std::string> username = optional_string(j, "username", 255, false);
  if (!username) return username.error();
  Result<std::string> password = optional_string(j, "password", 255, true);
  if (!password) return password.error();
  Result<std::string> secret = optional_string(j, "secret", 512, true);
  if (!secret) return secret.error();
  auto http_only = j.find("http_only");
  if (http_only != j.end() && !http_only->is_null() && !http_only->is_boolean()) return bad("http_only must be a boolean");

  if (p.type == Type::mtproto) {
    if (!username->empty() || !password->empty()) return bad("username and password are not for an mtproto proxy");
    if (secret->empty()) return bad("secret is required for an mtproto proxy");
    for (char c : *secret) {
      const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                      c == '_' || c == '+' || c == '/' || c == '=';
      if (!ok) return bad("secret must be hex or base64");
    }
    p.secret = std::move(*secret);
  } else {
    if (!secret->empty()) return bad("secret is only for an mtproto proxy");
    p.username = std::move(*username);
    p.password = std::move(*password);
  }
  if (http_only != j.end() && http_only->is_boolean()) {
    if (p.type != Type::http) return bad("http_only is only for an http proxy");
    p.http_only = http_only->get<bool>();
  }
  return p;
}

Result<ProxySpec> ProxySpec::from_td(const json& p) {
  if (!p.is_object() || !p.contains("type") || !p["type"].is_object()) {
    return Error(Errc::invalid_argument, "proxy: not a TDLib proxy object");
  }
  const json& t = p["type"];
  const std::string kind = t.value("@type", "");
  json ours = {{"server", p.value("server", json())}, {"port", p.value("port", json())}};
  if (kind == "proxyTypeSocks5" || kind == "proxyTypeHttp") {
    ours["type"] = kind == "proxyTypeSocks5" ? "socks5" : "http";
    ours["username"] = t.value("username", json());
    ours["password"] = t.value("password", json());
    if (kind == "proxyTypeHttp") ours["http_only"] = t.value("http_only", false);
  } else if (kind == "proxyTypeMtproto") {
    ours["type"] = "mtproto";
    ours["secret"] = t.value("secret", json());
  } else {
    return Error(Errc::invalid_argument, "proxy: unknown TDLib proxy type");
  }
  return parse(ours);
}

json ProxySpec::td_proxy() const {
  json type;
  switch (this->type) {
    case Type::socks5: type = {{"@type", "proxyTypeSocks5"}, {"username", username}, {"password", password}}; break;
    case Type::http:
      type = {{"@type", "proxyTypeHttp"}, {"username", username}, {"password", password}, {"http_only", http_only}};
      break;
    case Type::mtproto: type = {{"@type", "proxyTypeMtproto"}, {"secret", secret}}; break;
  }
  return json{{"@type", "proxy"}, {"server", server}, {"port", port}, {"type", std::move(type)}};
}

json ProxySpec::view() const {
  return json{{"type", type_name(type)},
              {"server", server},
              {"port", port},
              {"has_credentials", !username.empty() || !password.empty() || !secret.empty()}};
}

}  // namespace tgpulse::session
