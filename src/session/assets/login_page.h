// The login page (login.html beside this file), embedded in the binary at build time so the service
// serves it without reading files: GET /login/{session_id}?key=... answers login_page_html() as
// text/html. The routes and events the page uses are in README.md beside this file.
//
// Thread-safety: returns a view of static, immutable data; thread-safe.
#pragma once

#include <string_view>

namespace tgpulse::session::assets {

// The page, byte for byte as login.html.
std::string_view login_page_html() noexcept;

}  // namespace tgpulse::session::assets
