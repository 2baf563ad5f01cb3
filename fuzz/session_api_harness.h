// SessionApiHarness: the session HTTP API wired the way the service wires it (SessionManager,
// InvokePipeline on a Throttle and FloodLedger, SessionRoutes, the Router), on test doubles instead of
// I/O: MemorySessionStore, FakeEngine, and a logger and tracer that discard what they get; the
// throttle's waiting layers are off so inputs do not wait for tokens. For the
// fuzz targets that drive requests through the routes (http_request_fuzzer, session_body_fuzzer).
//
// It prepares what hostile requests need to reach past authentication: tenant "acme" (token
// "tgp_acme"), one authorized session and one QR login waiting for a scan. expand() replaces the
// placeholders {sid} (the authorized session), {qid} (the QR login), {key} (its page key) in an input.
// Fuzz inputs may delete any of these; ensure_ready() rebuilds everything when they did, and also every
// few hundred inputs so the fake engine's history stays small.
//
// Thread-safety: one controlling thread (the fuzzer's). The session layer runs on its own io_context
// thread; call() runs handlers on an io_context run by the calling thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "http/request.h"
#include "http/response.h"
#include "http/router.h"

namespace tgpulse::telemetry {
class Logger;
class Registry;
class Tracer;
}  // namespace tgpulse::telemetry

namespace tgpulse::fuzz {

inline constexpr std::string_view kAdminToken = "fuzz-admin-token-0123456789";
inline constexpr std::string_view kTenantToken = "tgp_acme";

class SessionApiHarness {
 public:
  SessionApiHarness();
  ~SessionApiHarness();
  SessionApiHarness(const SessionApiHarness&) = delete;
  SessionApiHarness& operator=(const SessionApiHarness&) = delete;

  // Rebuilds the world if an input removed the prepared tenant or sessions, or after many inputs.
  // `before_rebuild` runs first (stop a Server built on router() there); returns true when it rebuilt.
  bool ensure_ready(const std::function<void()>& before_rebuild = {});
  // The routes of the current world; valid until the next rebuild.
  const http::Router& router() const;
  // The current world's telemetry (a Server built on router() may report to them); discarding sinks.
  telemetry::Registry& registry();
  telemetry::Logger& logger();
  telemetry::Tracer& tracer();
  // Replaces {sid}, {qid} and {key} with the prepared ids.
  std::string expand(std::string_view text) const;
  // Routes and answers one request the way Connection::serve does (404/405, query parsing, handler,
  // with the request's executor on this thread; event streams are not run. A handler that throws is a
  // finding here (the server would answer 500): it prints the exception and aborts.
  http::Response call(http::Request request);

 private:
  struct World;
  void rebuild();
  boost::asio::io_context handler_io_;  // declared first: outlives every world (see call())
  std::unique_ptr<World> world_;
  int uses_ = 0;
};

}  // namespace tgpulse::fuzz
