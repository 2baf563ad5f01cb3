#include "updates/webhook_routes.h"

#include "updates/webhook_signature.h"
#include "updates/webhook_url.h"

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace tgpulse::updates {
namespace {

constexpr std::int64_t kMaxConnections = 100;
constexpr std::int64_t kDefaultMaxConnections = 40;  // as the Bot API's setWebhook

http::Response unprocessable(std::string_view message) {
  return http::Response::error(bhttp::status::unprocessable_entity, "invalid_argument", message);
}

}  // namespace

struct WebhookRoutes::Impl {
  UpdateHub& hub;
  WebhookDelivery& deliveries;
  WebhookResolver& resolver;
  bool allow_private;
  TenantGate gate;

  asio::awaitable<http::Response> put_webhook(http::Request& r) {
    asio::awaitable<http::Caller> auth = gate.tenant_of(r);
    http::Caller caller = co_await std::move(auth);
    if (!caller) co_return std::move(*caller.refusal);
    const std::string tenant = caller.tenant_id;
    Result<json> body = gate.body_object(r);
    if (!body) co_return http::Response::from_error(body.error());
    const json& b = *body;
    auto url_field = b.find("url");
    auto secret_field = b.find("secret");
    if (url_field == b.end() || !url_field->is_string() || secret_field == b.end() || !secret_field->is_string()) {
      co_return http::Response::error(bhttp::status::bad_request, "invalid_argument",
                                      "the body must be {\"url\": string, \"secret\": string, \"allowed_updates\"?: "
                                      "[update types], \"max_connections\"?: 1-100}");
    }
    store::WebhookRecord record;
    record.tenant_id = tenant;
    record.url = url_field->get<std::string>();
    record.secret = secret_field->get<std::string>();
    record.max_connections = kDefaultMaxConnections;
    if (auto mc = b.find("max_connections"); mc != b.end()) {
      if (!mc->is_number_integer() || mc->get<std::int64_t>() < 1 || mc->get<std::int64_t>() > kMaxConnections) {
        co_return unprocessable("max_connections must be an integer from 1 to 100");
      }
      record.max_connections = mc->get<std::int64_t>();
    }
    std::optional<AllowedUpdates> allowed;
    if (auto au = b.find("allowed_updates"); au != b.end()) {
      if (!au->is_array()) co_return unprocessable("allowed_updates must be an array of update types");
      Result<AllowedUpdates> parsed = AllowedUpdates::parse(*au);
      if (!parsed) co_return unprocessable(parsed.error().message);
      allowed = std::move(*parsed);
    }
    Result<WebhookUrl> url = WebhookUrl::parse(record.url);
    if (!url) co_return unprocessable(url.error().message);
    if (Status st = validate_webhook_secret(record.secret); !st) co_return unprocessable(st.error().message);
    // The address policy now, so a URL that can never be delivered to is refused at once (every
    // delivery checks again: a name may change its addresses).
    asio::awaitable<Result<std::vector<asio::ip::tcp::endpoint>>> checking =
        checked_webhook_endpoints(resolver, *url, allow_private);
    Result<std::vector<asio::ip::tcp::endpoint>> endpoints = co_await std::move(checking);
    if (!endpoints) co_return unprocessable(endpoints.error().message);
    json answer = {{"url", url->redacted()}, {"max_connections", record.max_connections}};
    if (allowed) {
      answer["allowed_updates"] = allowed->to_json();
      asio::awaitable<Status> filtering = hub.set_allowed_updates(tenant, std::move(*allowed));
      Status filtered = co_await std::move(filtering);
      if (!filtered) co_return http::Response::from_error(filtered.error());
    } else {
      asio::awaitable<Result<AllowedUpdates>> reading = hub.allowed_updates(tenant);
      Result<AllowedUpdates> current = co_await std::move(reading);
      if (!current) co_return http::Response::from_error(current.error());
      answer["allowed_updates"] = current->to_json();
    }
    asio::awaitable<Status> setting = deliveries.set(std::move(record));
    Status set = co_await std::move(setting);
    co_return set ? http::Response::json(bhttp::status::ok, answer) : http::Response::from_error(set.error());
  }

  asio::awaitable<http::Response> get_webhook(http::Request& r) {
    asio::awaitable<http::Caller> auth = gate.tenant_of(r);
    http::Caller caller = co_await std::move(auth);
    if (!caller) co_return std::move(*caller.refusal);
    const std::string tenant = caller.tenant_id;
    asio::awaitable<Result<std::optional<WebhookDelivery::Info>>> reading = deliveries.info(tenant);
    Result<std::optional<WebhookDelivery::Info>> info = co_await std::move(reading);
    if (!info) co_return http::Response::from_error(info.error());
    if (!*info) co_return http::Response::error(bhttp::status::not_found, "not_found", "this tenant has no webhook");
    asio::awaitable<Result<AllowedUpdates>> filter = hub.allowed_updates(tenant);
    Result<AllowedUpdates> allowed = co_await std::move(filter);
    if (!allowed) co_return http::Response::from_error(allowed.error());
    const WebhookDelivery::Info& i = **info;
    co_return http::Response::json(
        bhttp::status::ok,
        {{"url", i.url},
         {"pending_update_count", i.pending_update_count},
         {"last_error_date", i.last_error_date ? json(*i.last_error_date) : json(nullptr)},
         {"last_error_message", i.last_error_date ? json(i.last_error_message) : json(nullptr)},
         {"max_connections", i.max_connections},
         {"allowed_updates", allowed->to_json()}});
  }

  asio::awaitable<http::Response> delete_webhook(http::Request& r) {
    asio::awaitable<http::Caller> auth = gate.tenant_of(r);
    http::Caller caller = co_await std::move(auth);
    if (!caller) co_return std::move(*caller.refusal);
    const std::string tenant = caller.tenant_id;
    bool drop = false;
    if (std::optional<std::string_view> v = r.query("drop_pending_updates")) {
      if (*v != "true" && *v != "false") {
        co_return http::Response::error(bhttp::status::bad_request, "invalid_argument",
                                        "drop_pending_updates must be true or false");
      }
      drop = *v == "true";
    }
    asio::awaitable<Result<bool>> removing = deliveries.remove(tenant, drop);
    Result<bool> removed = co_await std::move(removing);
    if (!removed) co_return http::Response::from_error(removed.error());
    if (!*removed) co_return http::Response::error(bhttp::status::not_found, "not_found", "this tenant has no webhook");
    co_return http::Response::json(bhttp::status::ok, {{"deleted", true}, {"dropped_pending_updates", drop}});
  }
};

WebhookRoutes::WebhookRoutes(UpdateHub& hub, WebhookDelivery& deliveries, WebhookResolver& resolver, bool allow_private,
                             TenantGate gate)
    : impl_(std::make_shared<Impl>(Impl{hub, deliveries, resolver, allow_private, std::move(gate)})) {}

void WebhookRoutes::add_to(http::Router& router) {
  using Member = asio::awaitable<http::Response> (Impl::*)(http::Request&);
  auto add = [&](bhttp::verb verb, Member member) {
    router.add(verb, "/v1/webhook", [impl = impl_, member](http::Request& r) { return ((*impl).*member)(r); });
  };
  add(bhttp::verb::put, &Impl::put_webhook);
  add(bhttp::verb::get, &Impl::get_webhook);
  add(bhttp::verb::delete_, &Impl::delete_webhook);
}

}  // namespace tgpulse::updates
