#include "http/response.h"

#include <nlohmann/json.hpp>

#include "http/sse_writer.h"

namespace tgpulse::http {

namespace beast_http = boost::beast::http;

Response Response::json(beast_http::status status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::text(beast_http::status status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Response Response::error(beast_http::status status, std::string_view code, std::string_view message) {
  return error(status, code, message, nlohmann::json::object());
}

Response Response::error(beast_http::status status, std::string_view code, std::string_view message,
                         const nlohmann::json& extra) {
  nlohmann::json err = {{"code", code}, {"message", message}};
  if (extra.is_object()) {
    for (const auto& [k, v] : extra.items()) err[k] = v;
  }
  return json(status, nlohmann::json{{"error", std::move(err)}});
}

beast_http::status status_for(Errc code) noexcept {
  switch (code) {
    case Errc::ok: return beast_http::status::ok;
    case Errc::invalid_argument: return beast_http::status::bad_request;
    case Errc::not_found: return beast_http::status::not_found;
    case Errc::conflict: return beast_http::status::conflict;
    case Errc::unauthorized: return beast_http::status::unauthorized;
    case Errc::payload_too_large: return beast_http::status::payload_too_large;
    case Errc::timeout: return beast_http::status::gateway_timeout;
    case Errc::cancelled: return beast_http::status::service_unavailable;
    case Errc::flood_wait: return beast_http::status::too_many_requests;
    case Errc::throttled: return beast_http::status::too_many_requests;
    case Errc::unavailable: return beast_http::status::service_unavailable;
    case Errc::engine_error: return beast_http::status::bad_gateway;
    case Errc::store_error: return beast_http::status::internal_server_error;
    case Errc::internal: return beast_http::status::internal_server_error;
  }
  return beast_http::status::internal_server_error;
}

Response Response::from_error(const Error& error) {
  nlohmann::json extra = nlohmann::json::object();
  if (error.retry_after_s > 0) extra["retry_after"] = error.retry_after_s;
  if (error.code == Errc::engine_error && error.td_code != 0) extra["td_code"] = error.td_code;
  Response r = Response::error(status_for(error.code), errc_name(error.code), error.message, extra);
  if (error.retry_after_s > 0) r.with_header("Retry-After", std::to_string(error.retry_after_s));
  return r;
}

Response Response::streamed(beast_http::status status, std::string content_type, std::uint64_t length,
                            BodyProducer producer) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.content_length = length;
  r.producer = std::move(producer);
  return r;
}

Response Response::event_stream(SseProducer producer) {
  Response r;
  r.status = beast_http::status::ok;
  r.content_type = "text/event-stream";
  r.sse = std::move(producer);
  return r;
}

}  // namespace tgpulse::http
