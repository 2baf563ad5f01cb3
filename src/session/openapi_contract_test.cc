// The API contract (docs/openapi.json) against the code: the document lists exactly the routes the
// service registers — assembled as Application::start assembles them (standard routes, the session
// routes, the document's own route) — every path parameter is declared, every $ref resolves, and the
// binary serves the repository's copy byte for byte.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "http/openapi_route.h"
#include "http/standard_routes.h"
#include "session/file_transfers.h"
#include "session/session_routes.h"
#include "session/session_test_fixture.h"
#include "store/memory_update_log.h"
#include "updates/update_hub.h"
#include "updates/update_routes.h"
#include "updates/webhook_delivery.h"
#include "updates/webhook_routes.h"

namespace tgpulse::session {
namespace {

using nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const std::set<std::string> kMethods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

class OpenApiContractTest : public SessionTestFixture {
 protected:
  OpenApiContractTest()
      : routes_(manager(), RouteStore{calls_, tokens_, last_used_}, nullptr, nullptr, SessionRoutesOptions{}),
        update_routes_(hub_, updates::TenantGate{}),
        webhook_routes_(hub_, webhooks_, resolver_, false, updates::TenantGate{}) {
    http::add_standard_routes(router_, readiness_, registry_);
    routes_.add_to(router_);
    files_.add_to(router_);
    update_routes_.add_to(router_);
    webhook_routes_.add_to(router_);
    http::add_openapi_route(router_);
  }
  static json document() { return json::parse(http::openapi_document()); }

  http::ReadinessChecks readiness_;
  BlockingPool pool_{{"store", 1, 16}};
  store::AsyncSessionStore calls_{store_, pool_};
  store::TenantTokenCache tokens_{store::StoreAccessOptions{}, clock_};
  store::LastUsedBatcher last_used_{store_, store::StoreAccessOptions{}, nullptr};
  SessionRoutes routes_;
  FileTransfers files_{FileTransfersOptions{}, manager(), routes_, nullptr};
  store::MemoryUpdateLog update_log_;
  updates::UpdateMetrics update_metrics_{registry_};
  updates::UpdateHub hub_{io_.get_executor(), pool_, update_log_, clock_, updates::UpdatesOptions{}, update_metrics_};
  updates::UpdateRoutes update_routes_;
  updates::WebhookDelivery webhooks_{
      updates::WebhookDelivery::Context{io_.get_executor(), pool_, update_log_, hub_, clock_, update_metrics_, registry_,
                                        logger_, tracer_},
      updates::UpdatesOptions{}, nullptr};
  updates::SystemWebhookResolver resolver_;
  updates::WebhookRoutes webhook_routes_;
  http::Router router_;
};

TEST_F(OpenApiContractTest, DocumentsExactlyTheRegisteredRoutes) {
  std::set<std::string> registered;
  for (const http::Route& r : router_.routes()) registered.insert(lower(std::string(boost::beast::http::to_string(r.method))) + " " + r.pattern);
  std::set<std::string> documented;
  const json doc = document();
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [key, op] : item.items()) {
      if (kMethods.count(key) != 0) documented.insert(key + " " + path);
    }
  }
  EXPECT_EQ(documented, registered);
  EXPECT_EQ(registered.size(), 46u);  // guards the assembly above against an empty router
}

TEST_F(OpenApiContractTest, EveryPathParameterIsDeclared) {
  const json doc = document();
  int checked = 0;
  for (const auto& [path, item] : doc.at("paths").items()) {
    std::set<std::string> in_path;
    for (std::size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
      in_path.insert(path.substr(open + 1, path.find('}', open) - open - 1));
    }
    json params = item.value("parameters", json::array());
    std::set<std::string> declared;
    for (const json& p : params) {
      const json& resolved = p.contains("$ref") ? doc.at(json::json_pointer(p["$ref"].get<std::string>().substr(1))) : p;
      if (resolved.at("in") == "path") declared.insert(resolved.at("name").get<std::string>());
    }
    EXPECT_EQ(declared, in_path) << path;
    checked += in_path.empty() ? 0 : 1;
  }
  EXPECT_EQ(checked, 25);
}

void collect_refs(const json& j, std::vector<std::string>* out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "$ref" && v.is_string()) out->push_back(v.get<std::string>());
      collect_refs(v, out);
    }
  } else if (j.is_array()) {
    for (const json& v : j) collect_refs(v, out);
  }
}

TEST_F(OpenApiContractTest, IsOpenApi31AndEveryRefResolves) {
  const json doc = document();
  ASSERT_TRUE(doc.at("openapi").is_string());
  EXPECT_EQ(doc["openapi"].get<std::string>().rfind("3.1.", 0), 0u);
  EXPECT_TRUE(doc.at("info").contains("title") && doc["info"].contains("version"));
  std::vector<std::string> refs;
  collect_refs(doc, &refs);
  EXPECT_GT(refs.size(), 50u);
  for (const std::string& ref : refs) {
    ASSERT_EQ(ref.rfind("#/", 0), 0u) << ref;
    EXPECT_TRUE(doc.contains(json::json_pointer(ref.substr(1)))) << ref;
  }
}

TEST_F(OpenApiContractTest, ServesTheRepositoryCopy) {
  std::ifstream in(TGPULSE_OPENAPI_FILE, std::ios::binary);
  ASSERT_TRUE(in) << TGPULSE_OPENAPI_FILE;
  std::stringstream file;
  file << in.rdbuf();
  EXPECT_EQ(file.str(), http::openapi_document());

  http::RouteMatch m = router_.match(boost::beast::http::verb::get, "/v1/openapi.json");
  ASSERT_EQ(m.kind, http::RouteMatch::Kind::found);
  http::Request req;
  http::Response resp = run(m.route->handler(req));
  EXPECT_EQ(resp.status, boost::beast::http::status::ok);
  EXPECT_EQ(resp.content_type, "application/json");
  EXPECT_EQ(resp.body, http::openapi_document());
}

}  // namespace
}  // namespace tgpulse::session
