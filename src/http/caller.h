// The tenant a request was authenticated as, or the answer to give instead (401 without a valid token,
// 429 when a limit refused it, 503 when the store pool is full). Shared by every area's tenant routes,
// so all of them authenticate and refuse the same way.
#pragma once

#include <optional>
#include <string>

#include "http/response.h"

namespace tgpulse::http {

struct Caller {
  std::string tenant_id;
  std::optional<Response> refusal;  // set: the request is refused with this answer
  explicit operator bool() const { return !refusal; }
};

}  // namespace tgpulse::http
