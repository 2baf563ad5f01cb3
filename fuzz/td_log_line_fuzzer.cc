// Fuzz target: the TDLib log-line parser (src/td/td_log_line.*). The first byte picks the verbosity the
// log callback reports; the rest is the message as TDLib formats it. Checks the parser's promises:
// QR login tokens masked, no trailing newline, absorbed waits never negative.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "td/td_log_line.h"

using tgpulse::td::TdLogLine;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int verbosity = static_cast<int>(data[0] % 8);
  const std::string_view message(reinterpret_cast<const char*>(data + 1), size - 1);
  const TdLogLine line = TdLogLine::parse(verbosity, message);
  if (!line.text.empty() && line.text.back() == '\n') std::abort();
  if (line.absorbed_flood_wait && (line.absorbed_flood_wait->seconds < 0 || line.absorbed_flood_wait->total_seconds < 0)) {
    std::abort();
  }
  // A QR login link is a credential: every one left in the text has its token masked.
  constexpr std::string_view kLink = "tg://login?token=";
  for (auto pos = line.text.find(kLink); pos != std::string::npos; pos = line.text.find(kLink, pos + 1)) {
    if (line.text.compare(pos + kLink.size(), 10, "[REDACTED]") != 0) std::abort();
  }
  return 0;
}
