// WebhookUrl::parse on arbitrary bytes (tenant input, docs/fuzzing.md). Beyond not crashing: a URL that
// parses has a host, a port and a target starting with "/", its host is never empty nor carries '@',
// and its redacted form and Host header parse back to the same host and port.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "updates/webhook_url.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = tgpulse::updates::WebhookUrl::parse(input);
  if (!parsed.ok()) {
    if (parsed.error().message.empty()) std::abort();
    return 0;
  }
  const auto& url = parsed.value();
  if (url.host.empty() || url.port == 0 || url.target.empty() || url.target.front() != '/') std::abort();
  if (url.host.find('@') != std::string::npos || input.size() > tgpulse::updates::WebhookUrl::kMaxLength) std::abort();
  const std::string origin = std::string(url.https ? "https://" : "http://") + url.host_header() + "/";
  auto again = tgpulse::updates::WebhookUrl::parse(origin);
  if (!again.ok() || again.value().host != url.host || again.value().port != url.port) std::abort();
  return 0;
}
