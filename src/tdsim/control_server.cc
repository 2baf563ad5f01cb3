#include "tdsim/control_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <limits>

namespace tgpulse::tdsim {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxRequest = 64 * 1024;

int status_for(Errc code) {
  switch (code) {
    case Errc::not_found: return 404;
    case Errc::conflict: return 409;
    default: return 400;
  }
}

ControlResponse from_result(const Result<json>& r) {
  if (r.ok()) return {200, r.value()};
  return {status_for(r.error().code), {{"error", r.error().message}}};
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    default: return "Error";
  }
}

bool write_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads one request (head + Content-Length body). False on timeout, oversize or a malformed head.
bool read_request(int fd, std::string* method, std::string* target, std::string* body, int* error_status) {
  std::string data;
  char buf[4096];
  std::size_t head_end = std::string::npos;
  std::size_t content_length = 0;
  while (true) {
    if (head_end == std::string::npos) {
      head_end = data.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const std::string head = data.substr(0, head_end);
        const auto line_end = head.find("\r\n");
        const std::string request_line = head.substr(0, line_end);
        const auto sp1 = request_line.find(' ');
        const auto sp2 = request_line.find(' ', sp1 + 1);
        if (sp1 == std::string::npos || sp2 == std::string::npos) {
          *error_status = 400;
          return false;
        }
        *method = request_line.substr(0, sp1);
        *target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
        std::string lower = head;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto cl = lower.find("\r\ncontent-length:");
        if (cl != std::string::npos) {
          content_length = std::strtoul(lower.c_str() + cl + 17, nullptr, 10);
          if (content_length > kMaxRequest) {
            *error_status = 413;
            return false;
          }
        }
      }
    }
    if (head_end != std::string::npos && data.size() >= head_end + 4 + content_length) {
      *body = data.substr(head_end + 4, content_length);
      return true;
    }
    if (data.size() > kMaxRequest * 2) {
      *error_status = 413;
      return false;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    data.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

ControlServer::~ControlServer() = default;

Status ControlServer::start(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return Status(Errc::invalid_argument, "TDSIM_CONTROL_ADDR must be HOST:PORT: " + address);
  const std::string host = address.substr(0, colon);
  const int port = std::atoi(address.c_str() + colon + 1);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return Status(Errc::invalid_argument, "TDSIM_CONTROL_ADDR is not an IPv4 HOST:PORT: " + address);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status(Errc::unavailable, "cannot create the tdsim control socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return Status(Errc::unavailable, "cannot listen on " + address + ": " + why);
  }
  std::thread([this, fd] { serve(fd); }).detach();
  return {};
}

void ControlServer::serve(int listen_fd) {
  while (true) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE) ::usleep(100000);
        continue;
      }
      return;
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string method, target, body;
    int error_status = 0;
    ControlResponse response;
    if (read_request(fd, &method, &target, &body, &error_status)) {
      try {
        response = handle(method, target, body);
      } catch (const std::exception& e) {
        response = {500, {{"error", e.what()}}};
      }
    } else if (error_status != 0) {
      response = {error_status, {{"error", "malformed or oversized request"}}};
    } else {
      ::close(fd);
      continue;
    }
    const std::string payload = response.body.dump();
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) +
                      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(payload.size()) +
                      "\r\nConnection: close\r\n\r\n" + payload;
    write_all(fd, out);
    ::close(fd);
  }
}

ControlResponse ControlServer::handle(const std::string& method, const std::string& target, const std::string& body) {
  const std::string path = target.substr(0, target.find('?'));
  static const char* const kGetRoutes[] = {"/state", "/health"};
  static const char* const kPostRoutes[] = {"/scan",    "/flood", "/revoke", "/profile",
                                                  "/release", "/incoming", "/phone-account", "/proxy", "/file"};
  bool is_get = false, is_post = false;
  for (const char* r : kGetRoutes) is_get = is_get || path == r;
  for (const char* r : kPostRoutes) is_post = is_post || path == r;
  if (!is_get && !is_post) return {404, {{"error", "no such route: " + path}}};
  if ((is_get && method != "GET") || (is_post && method != "POST")) {
    return {405, {{"error", "use " + std::string(is_get ? "GET" : "POST") + " for " + path}}};
  }
  if (path == "/health") return {200, {{"ok", true}}};
  if (path == "/state") return {200, simulator_.state()};

  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return {400, {{"error", "the body must be a JSON object"}}};
  auto str = [&](const char* key) { return doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : std::string(); };
  auto integer = [&](const char* key, int fallback) {
    return doc.contains(key) && doc[key].is_number_integer() ? doc[key].get<int>() : fallback;
  };
  if (path == "/scan") {
    if (str("link").empty()) return {400, {{"error", "scan needs \"link\""}}};
    return from_result(simulator_.scan(str("link"), doc.contains("outcome") ? str("outcome") : "accept", str("password")));
  }
  if (path == "/flood") {
    if (str("method").empty() || !doc.contains("seconds") || !doc["seconds"].is_number_integer()) {
      return {400, {{"error", "flood needs \"method\" and integer \"seconds\""}}};
    }
    const std::string answer = doc.contains("answer") ? str("answer") : "tdlib";
    if (answer != "tdlib" && answer != "error") {
      return {400, {{"error", "flood \"answer\" must be \"tdlib\" (absorb waits up to the limit) or \"error\" (429)"}}};
    }
    return from_result(simulator_.force_flood(str("method"), integer("client_id", 0), doc["seconds"].get<int>(),
                                              answer == "error"));
  }
  if (path == "/release") return from_result(simulator_.release_withheld());
  if (path == "/incoming") {
    if (!doc.contains("count") || !doc["count"].is_number_integer()) {
      return {400, {{"error", "incoming needs integer \"count\" (1 to " + std::to_string(Simulator::kMaxIncomingCount) + ")"}}};
    }
    if (doc.contains("client_id") && (!doc["client_id"].is_number_integer() || doc["client_id"].get<std::int64_t>() <= 0 ||
                                      doc["client_id"].get<std::int64_t>() > std::numeric_limits<int>::max())) {
      return {400, {{"error", "incoming \"client_id\" must be a positive integer (omit it for every authorized client)"}}};
    }
    if (doc.contains("text") && !doc["text"].is_string()) return {400, {{"error", "incoming \"text\" must be a string"}}};
    const auto count = doc["count"].get<std::int64_t>();
    if (count < 1 || count > Simulator::kMaxIncomingCount) {
      return {400, {{"error", "incoming \"count\" must be from 1 to " + std::to_string(Simulator::kMaxIncomingCount)}}};
    }
    return from_result(simulator_.incoming(integer("client_id", 0), static_cast<int>(count),
                                           doc.contains("text") ? str("text") : std::string("tdsim incoming")));
  }
  if (path == "/phone-account") {
    if (str("phone_number").empty()) return {400, {{"error", "phone-account needs \"phone_number\""}}};
    auto optional_string = [&](const char* key) -> std::optional<std::string> {
      if (!doc.contains(key) || doc[key].is_null()) return std::nullopt;
      return doc[key].is_string() ? std::optional(doc[key].get<std::string>()) : std::nullopt;
    };
    for (const char* key : {"password", "password_hint"}) {
      if (doc.contains(key) && !doc[key].is_string() && !doc[key].is_null()) {
        return {400, {{"error", std::string("phone-account \"") + key + "\" must be a string"}}};
      }
    }
    if (doc.contains("registered") && !doc["registered"].is_boolean()) {
      return {400, {{"error", "phone-account \"registered\" must be true or false"}}};
    }
    std::optional<bool> registered;
    if (doc.contains("registered")) registered = doc["registered"].get<bool>();
    return from_result(simulator_.set_phone_account(str("phone_number"), optional_string("password"),
                                                    optional_string("password_hint"), registered));
  }
  if (path == "/proxy") {
    if (str("server").empty() || !doc.contains("port") || !doc["port"].is_number_integer() ||
        !doc.contains("reachable") || !doc["reachable"].is_boolean()) {
      return {400, {{"error", "proxy needs \"server\", integer \"port\" and boolean \"reachable\""}}};
    }
    const auto port = doc["port"].get<std::int64_t>();
    if (port <= 0 || port > 65535) return {400, {{"error", "proxy \"port\" must be from 1 to 65535"}}};
    return from_result(simulator_.set_proxy_reachable(str("server"), static_cast<int>(port), doc["reachable"].get<bool>()));
  }
  if (path == "/file") {
    if (!doc.contains("size") || !doc["size"].is_number_integer() || str("name").empty()) {
      return {400, {{"error", "file needs integer \"size\" (1 to 1 GiB) and \"name\""}}};
    }
    return from_result(simulator_.create_file(doc["size"].get<std::int64_t>(), str("name")));
  }
  if (path == "/revoke") {
    if (str("link").empty() && integer("client_id", 0) == 0) {
      return {400, {{"error", "revoke needs \"link\" or \"client_id\""}}};
    }
    return from_result(simulator_.revoke(str("link"), integer("client_id", 0)));
  }
  return from_result(simulator_.update_profile(doc));  // /profile
}

}  // namespace tgpulse::tdsim
