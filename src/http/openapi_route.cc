#include "http/openapi_route.h"

namespace tgpulse::http {

namespace bhttp = boost::beast::http;

void add_openapi_route(Router& router) {
  router.add(bhttp::verb::get, "/v1/openapi.json", [](Request&) -> boost::asio::awaitable<Response> {
    Response r = Response::text(bhttp::status::ok, std::string(openapi_document()), "application/json");
    r.with_header("Cache-Control", "public, max-age=3600");
    co_return r;
  });
}

}  // namespace tgpulse::http
