// StaticFunctions: what tdsim answers through td_execute, like TDLib 1.8.67: getOption("version"),
// the log settings (setLogVerbosityLevel, getLogVerbosityLevel, setLogStream, ...), getTextEntities
// (mentions, hashtags, cashtags, bot commands, URLs, e-mail addresses; offsets in UTF-16 code units) and
// parseTextEntities (Markdown v2 single-character markers). Functions that need a client answer
// {"code":400,"message":"The method can't be executed synchronously"}.
//
// Thread-safety: thread-safe (the log verbosity is atomic).
#pragma once

#include <atomic>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tdsim/td_request.h"

namespace tgpulse::tdsim {

inline constexpr std::string_view kTdlibVersion = "1.8.67";

class StaticFunctions {
 public:
  // Handles a parsed request; nullopt when `request.type` is not a static function.
  std::optional<nlohmann::json> run(const TdRequest& request);
  int log_verbosity() const noexcept { return verbosity_.load(std::memory_order_relaxed); }

  static nlohmann::json text_entities(std::string_view text);
  static nlohmann::json parse_markdown(std::string_view text);

 private:
  std::atomic<int> verbosity_{5};  // TDLib's default
};

}  // namespace tgpulse::tdsim
