// Fuzz target: request bodies of the session routes — TDLib function objects for invoke, the JSON of
// QR login, password, simulate and tenant creation — through the routes' own handlers (Router →
// SessionRoutes, on the SessionApiHarness). The first byte picks the route and the caller; the rest is
// the body. Checks, beyond no crash/leak/UB and no handler exception: a body the parser refuses or
// that is not an object is answered 400 (or earlier 401/404), never passed on.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include "core/bounded_json_parser.h"

#include "session_api_harness.h"

namespace {

namespace bhttp = boost::beast::http;
using tgpulse::fuzz::SessionApiHarness;

// The body parser under test: what session_routes.cc's body_object() uses, with the same limits
// (64 levels, 100,000 values). A body it refuses is null here.
nlohmann::json parse_body(std::string_view body) {
  tgpulse::ParsedJson parsed = tgpulse::BoundedJsonParser::parse(body, tgpulse::JsonLimits{});
  if (!parsed.ok()) return nlohmann::json(nlohmann::json::value_t::discarded);
  return std::move(parsed.value);
}

struct Target {
  bhttp::verb method;
  const char* target;  // placeholders as SessionApiHarness::expand() knows them
  const char* token;   // bearer token, "" for none
};

constexpr Target kTargets[] = {
    {bhttp::verb::post, "/v1/sessions/{sid}/invoke", "tgp_acme"},
    {bhttp::verb::post, "/v1/sessions/{sid}/invoke?flood=fail&deadline_ms=50", "tgp_acme"},
    {bhttp::verb::post, "/v1/qr-logins/{qid}/password", "tgp_acme"},
    {bhttp::verb::post, "/v1/login/{qid}/password?key={key}", ""},
    {bhttp::verb::post, "/v1/login/{qid}/simulate?key={key}", ""},
    {bhttp::verb::post, "/v1/tenants", "fuzz-admin-token-0123456789"},
    {bhttp::verb::post, "/v1/qr-logins", "tgp_acme"},
    {bhttp::verb::post, "/v1/sessions/{sid}/invoke", "tgp_other"},
};
constexpr std::size_t kTargetCount = sizeof(kTargets) / sizeof(kTargets[0]);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static SessionApiHarness harness;
  if (size == 0) return 0;
  const Target& t = kTargets[data[0] % kTargetCount];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  // POST /v1/qr-logins starts a login per call; keep those few.
  if (t.target == std::string_view("/v1/qr-logins") && (data[0] / kTargetCount) % 8 != 0) return 0;

  harness.ensure_ready();
  tgpulse::http::Request req;
  req.method = t.method;
  req.target = harness.expand(t.target);
  if (*t.token != '\0') req.headers.set(bhttp::field::authorization, std::string("Bearer ") + t.token);
  req.headers.set(bhttp::field::content_type, "application/json");
  req.body = std::string(body);
  const tgpulse::http::Response res = harness.call(std::move(req));

  const nlohmann::json parsed = parse_body(body);
  const bool refused = parsed.is_discarded() || !parsed.is_object();
  const bool empty_allowed = t.target == std::string_view("/v1/qr-logins") && body.empty();
  const unsigned status = static_cast<unsigned>(res.status);
  if (refused && !empty_allowed && status != 400 && status != 401 && status != 404) {
    std::fprintf(stderr, "%s answered %u to a body the parser refuses\n", t.target, status);
    std::abort();
  }
  if (status >= 500 && status != 503 && status != 504) {
    std::fprintf(stderr, "%s answered %u: %s\n", t.target, status, res.body.c_str());
    std::abort();
  }
  return 0;
}
