// The API's contract: docs/openapi.json (an OpenAPI 3.1 document written by hand, the single source),
// embedded in the binary at build time and served at GET /v1/openapi.json — without a token, because
// it holds no secret and SDK generators and API explorers fetch it anonymously, and cacheable
// (Cache-Control: public, max-age=3600), because it changes only with the binary.
//
// Thread-safety: openapi_document() returns a view of static, immutable data; add_openapi_route() is
// for start-up (before Server::start), like Router::add.
#pragma once

#include <string_view>

#include "http/router.h"

namespace tgpulse::http {

// docs/openapi.json, byte for byte.
std::string_view openapi_document() noexcept;

// Registers GET /v1/openapi.json.
void add_openapi_route(Router& router);

}  // namespace tgpulse::http
