// The Simulator's proxies (docs/tdsim.md#proxies): addProxy, enableProxy, disableProxy, removeProxy,
// getProxies, pingProxy, the connection state an unreachable enabled proxy leaves a client in, and the
// network requests it holds meanwhile.
#include "tdsim/simulator.h"

namespace tgpulse::tdsim {

using nlohmann::json;

namespace {

json connection_state(const char* state) {
  return {{"@type", "updateConnectionState"}, {"state", {{"@type", state}}}};
}

// At most this many addresses are marked unreachable (POST /proxy is a test tool, but bounded).
constexpr std::size_t kMaxUnreachableProxies = 10000;

}  // namespace

void Simulator::handle_proxy(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  const auto& t = request.type;
  const auto& o = request.object;
  auto answer = [&](json object) { emit(out, client, std::move(object), at, request.extra); };
  if (t == "getProxies") return answer(client.proxies.added_proxies());
  if (t == "pingProxy") return answer(ping_answer(o.contains("proxy") ? o["proxy"] : json()));

  const SimProxy* before = client.proxies.enabled();
  const int enabled_before = before == nullptr ? 0 : before->id;
  auto id_field = o.find("proxy_id");
  const int id = id_field != o.end() && id_field->is_number_integer() ? id_field->get<int>() : 0;
  json result = TdRequest::ok();
  if (t == "addProxy") {
    auto comment = o.find("comment");
    auto enable = o.find("enable");
    auto added = client.proxies.add(o.contains("proxy") ? o["proxy"] : json(),
                                    enable != o.end() && enable->is_boolean() && enable->get<bool>(),
                                    comment != o.end() && comment->is_string() ? comment->get<std::string>() : "");
    if (!added.ok()) return answer(TdRequest::error(400, added.error().message));
    result = std::move(added.value());
  } else if (t == "enableProxy" || t == "removeProxy") {
    if (!(t == "enableProxy" ? client.proxies.enable(id) : client.proxies.remove(id))) {
      return answer(TdRequest::error(400, "Unknown proxy identifier"));
    }
  } else {  // disableProxy
    client.proxies.disable();
  }
  const SimProxy* after = client.proxies.enabled();
  // As TDLib: the connection update comes before the answer.
  if ((after == nullptr ? 0 : after->id) != enabled_before) update_connection(client, out, at, true);
  answer(std::move(result));
  release_held(client, out);  // the requests that waited are answered after the proxy function
}

bool Simulator::hold_while_disconnected(SimClient& client, TdRequest& request, Outgoing& out, TimePoint now) {
  if (client.connected || client.proxies.enabled() == nullptr) return false;
  if (client.held.size() >= SimClient::kMaxHeldRequests) {
    emit(out, client, TdRequest::error(500, "Too many requests wait for a connection"), now, request.extra);
    return true;
  }
  client.held.push_back(std::move(request));
  return true;
}

void Simulator::update_connection(SimClient& client, Outgoing& out, TimePoint at, bool switched) {
  const SimProxy* proxy = client.proxies.enabled();
  const bool reachable = proxy == nullptr || proxy_reachable(proxy->proxy);
  if (switched) {
    emit(out, client, connection_state(proxy != nullptr ? "connectionStateConnectingToProxy" : "connectionStateConnecting"), at);
  } else if (!reachable && client.connected) {
    emit(out, client, connection_state("connectionStateConnectingToProxy"), at);
  }
  if (reachable && (switched || !client.connected)) emit(out, client, connection_state("connectionStateReady"), at);
  client.connected = reachable;
}

void Simulator::release_held(SimClient& client, Outgoing& out) {
  if (!client.connected) return;
  std::deque<TdRequest> held;
  held.swap(client.held);
  for (auto& request : held) handle(client, std::move(request), out);  // in arrival order
}

bool Simulator::proxy_reachable(const json& proxy) const {
  return unreachable_proxies_.count(ProxyList::address(proxy)) == 0;
}

json Simulator::ping_answer(const json& proxy) {
  std::string address;  // "": Telegram directly
  if (!proxy.is_null()) {
    auto read = ProxyList::read_proxy(proxy);
    if (!read.ok()) return TdRequest::error(400, read.error().message);
    if (!proxy_reachable(read.value())) return TdRequest::error(400, "Connection timed out");
    address = ProxyList::address(read.value());
  }
  // The same address and seed give the same time (FNV-1a of the address over the seed).
  std::uint64_t h = 1469598103934665603ULL ^ profile_.seed;
  for (char c : address) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  const auto& range = profile_.proxy.ping_ms;
  const double unit = static_cast<double>(h >> 11) * 0x1p-53;
  return {{"@type", "seconds"}, {"seconds", (range.min_ms + (range.max_ms - range.min_ms) * unit) / 1000}};
}

Result<json> Simulator::set_proxy_reachable(const std::string& server, int port, bool reachable) {
  if (server.empty()) return Error(Errc::invalid_argument, "server must be non-empty");
  if (port <= 0 || port > 65535) return Error(Errc::invalid_argument, "port must be from 1 to 65535");
  const std::string address = server + ":" + std::to_string(port);
  Outgoing out;
  std::size_t released = 0;
  {
    std::lock_guard lock(mutex_);
    if (reachable) {
      unreachable_proxies_.erase(address);
    } else {
      if (unreachable_proxies_.size() >= kMaxUnreachableProxies) {
        return Error(Errc::invalid_argument, "too many unreachable proxy addresses");
      }
      unreachable_proxies_.insert(address);
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& [id, c] : clients_) {
      const SimProxy* proxy = c.proxies.enabled();
      if (!c.started || c.state == SimAuthState::closed || proxy == nullptr || ProxyList::address(proxy->proxy) != address) {
        continue;
      }
      if (reachable) released += c.held.size();
      update_connection(c, out, now, false);
      release_held(c, out);
    }
  }
  deliver(out);
  return json{{"server", server}, {"port", port}, {"reachable", reachable}, {"released", released}};
}

}  // namespace tgpulse::tdsim
