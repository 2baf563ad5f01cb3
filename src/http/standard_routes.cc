#include "http/standard_routes.h"

#include <nlohmann/json.hpp>

#include "telemetry/metrics.h"

namespace tgpulse::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

void add_standard_routes(Router& router, const ReadinessChecks& readiness, const telemetry::Registry& registry) {
  router.add(bhttp::verb::get, "/healthz", [](Request&) -> asio::awaitable<Response> {
    co_return Response::json(bhttp::status::ok, {{"status", "ok"}});
  });

  router.add(bhttp::verb::get, "/readyz", [&readiness](Request&) -> asio::awaitable<Response> {
    nlohmann::json checks = nlohmann::json::object();
    nlohmann::json failing = nlohmann::json::array();
    std::string names;
    for (const auto& o : readiness.run()) {
      checks[o.name] = o.ok ? nlohmann::json{{"ok", true}} : nlohmann::json{{"ok", false}, {"message", o.message}};
      if (!o.ok) {
        failing.push_back(o.name);
        names += names.empty() ? o.name : ", " + o.name;
      }
    }
    if (failing.empty()) co_return Response::json(bhttp::status::ok, {{"status", "ready"}, {"checks", checks}});
    co_return Response::error(bhttp::status::service_unavailable, "not_ready", "failing checks: " + names,
                              {{"failing_checks", failing}, {"checks", checks}});
  });

  router.add(bhttp::verb::get, "/metrics", [&registry](Request& req) -> asio::awaitable<Response> {
    std::string content_type;
    const auto format = telemetry::Registry::negotiate(req.header("Accept"), &content_type);
    co_return Response::text(bhttp::status::ok, registry.expose(format), content_type);
  });
}

}  // namespace tgpulse::http
