// RequestForwarder: sends a request for a session to the node that owns it and hands that node's answer
// back to the caller, so any node behind a plain load balancer can take any request (docs/scaling.md,
// "Forwarding").
//
// What goes to the owner: the method, the target (path and query), the body and every header except the
// hop-by-hop ones (Connection and the headers it names, Keep-Alive, Transfer-Encoding, TE, Trailer,
// Upgrade, Proxy-*); Host names the owner. Authorization goes through unchanged: the owner authenticates
// the tenant itself. Added: X-Tgpulse-Forwarded-By (this node's id; a request carrying it is never
// forwarded again, see forwarding_routes.h), X-Request-Id (this request's id) and a `traceparent` whose
// parent is this request's server span. A streamed request body (RouteOptions::stream_body) is piped to
// the owner piece by piece, with its declared Content-Length or chunked, after the owner's
// "100 Continue" — an owner that refuses first (bad token, quota) costs the client no upload.
//
// What comes back: a response with Content-Length up to kMaxBufferedBody bytes is read whole and answered
// with the owner's status, content type, body and end-to-end headers (Retry-After, Content-Range, ...).
// A longer one (a file download) is a Response::streamed that copies it through in pieces. A
// text/event-stream answer is a Response::event_stream that relays it as it comes, until either side
// goes away or the server drains. A body of unknown length that is not an event stream is buffered up to
// kMaxBufferedBody bytes (tgpulse itself never sends one). The owner's response head may take at most
// kMaxResponseHead bytes.
//
// Failures: the owner cannot be reached, refuses the connection or closes it before any byte of an
// answer → 503 owner_unavailable with Retry-After: 1 (the session is probably moving; retry). No
// response head within ForwarderOptions::exchange_timeout → 504 owner_timeout. A malformed or oversized
// head, or a body cut before the answer was handed back → 502 owner_bad_response. A failure after the
// head was handed back (a streamed body, an event stream) ends the client's connection: a body shorter
// than its Content-Length is never passed off as whole.
//
// Telemetry (registered once at construction): tgpulse_forwarded_requests_total{result} (ok: an answer
// of the owner was relayed whole; unavailable; failed: anything else), tgpulse_forward_seconds (time to
// the owner's response head), a client span "tgpulse_forward" and the WARN log "Forward to owner failed"
// (node id and error; at most once per second per node).
//
// Connections: one connection per forwarded request, closed afterwards (no pool yet). stop() closes every
// connection in use and answers later calls 503 owner_unavailable: call it when the server drains, so
// no forwarded request outlives the grace period.
//
// Thread-safety: thread-safe. forward() runs on the caller's executor (the request's connection strand)
// and posts nowhere else; a streamed body or event stream it returns keeps its connection to the owner
// on that executor.
#pragma once

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/session_locator.h"
#include "http/request.h"
#include "http/response.h"

namespace tgpulse::telemetry {
class Registry;
class Logger;
class Tracer;
}  // namespace tgpulse::telemetry

namespace tgpulse::cluster {

// The header that marks a forwarded request (its value: the forwarding node's id).
inline constexpr std::string_view kForwardedByHeader = "X-Tgpulse-Forwarded-By";
// The largest response body read whole into memory; a longer one is streamed through.
inline constexpr std::uint64_t kMaxBufferedBody = 1024 * 1024;
// The largest response head (status line and headers) accepted from an owner.
inline constexpr std::uint32_t kMaxResponseHead = 64 * 1024;

struct ForwarderOptions {
  // Resolving the owner's host and connecting to it. Short: the owner is a peer on the same network,
  // and a client waits on it; past it the answer is 503 owner_unavailable.
  std::chrono::milliseconds connect_timeout{2000};
  // From the first byte sent to the whole answer of a request without a streamed body or answer (for a
  // streamed body: from its last byte to the answer's head). Long, because an invoke may wait out a
  // FloodWait on the owner; past it the answer is 504 owner_timeout.
  std::chrono::milliseconds exchange_timeout{60000};
  // A streamed request body, a streamed answer or an event stream may stall this long between two
  // pieces before it is ended. Above the owner's event-stream heartbeat (15 s by default).
  std::chrono::milliseconds stream_idle_timeout{60000};
};

// Where the forwarder reports; any pointer may be null (that signal is then not produced). The objects
// must outlive the forwarder.
struct ForwarderTelemetry {
  telemetry::Registry* registry = nullptr;
  telemetry::Logger* logger = nullptr;
  telemetry::Tracer* tracer = nullptr;
};

class RequestForwarder {
 public:
  // `self_node`: this node's id, sent as X-Tgpulse-Forwarded-By.
  RequestForwarder(std::string self_node, ForwarderOptions options, ForwarderTelemetry telemetry);
  ~RequestForwarder();
  RequestForwarder(const RequestForwarder&) = delete;
  RequestForwarder& operator=(const RequestForwarder&) = delete;

  // Sends `req` to `to.url` ("http://host:port") and answers what the owner answered (see above).
  // `req` is the server's request (it outlives the call); its body is moved out, its streamed body read.
  boost::asio::awaitable<http::Response> forward(http::Request& req, NodeAddress to);

  // Closes every connection to an owner in use and makes later forward() calls answer 503
  // owner_unavailable. Idempotent; any thread.
  void stop();

  const std::string& self_node() const noexcept { return self_node_; }
  const ForwarderOptions& options() const noexcept { return options_; }

  // Internals of request_forwarder.cc: one connection to an owner, one forwarded request, the outcome
  // counted for it (the `result` label).
  struct Upstream;
  struct Exchange;
  enum class Outcome { ok, unavailable, failed };

 private:
  struct Metrics;
  void count(Outcome outcome) noexcept;
  // The WARN line "Forward to owner failed", at most once a second per node.
  void log_failure(const std::string& node_id, std::string_view error);
  // Registers a connection for stop() (0: stopped already, nothing registered); release() forgets it.
  std::uint64_t track(const std::shared_ptr<Upstream>& upstream);
  void release(std::uint64_t id);

  std::string self_node_;
  ForwarderOptions options_;
  ForwarderTelemetry telemetry_;
  std::unique_ptr<Metrics> metrics_;

  std::mutex mu_;
  bool stopped_ = false;                                            // guarded by mu_
  std::uint64_t next_id_ = 1;                                       // guarded by mu_
  std::unordered_map<std::uint64_t, std::weak_ptr<Upstream>> live_;  // guarded by mu_
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> last_log_;  // guarded by mu_
};

}  // namespace tgpulse::cluster
