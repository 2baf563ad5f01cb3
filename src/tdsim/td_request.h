// TdRequest: one request as TDLib's JSON interface reads it, and the exact error objects TDLib 1.8.67
// answers for requests it cannot read (checked against the real library by the contract tests):
//   not JSON          {"code":400,"message":"Failed to parse request as JSON object: <parser message>"}
//   not an object     {"code":400,"message":"Expected a JSON object"}
//   no "@type"        {"code":400,"message":"Failed to parse JSON object as TDLib request: Can't find field \"@type\""}
//   unknown "@type"   {"code":400,"message":"Failed to parse JSON object as TDLib request: Unknown class \"X\""}
//   wrong-typed argument  {"code":400,"message":"Failed to parse JSON object as TDLib request: Expected String,
//                     but receive Number"} and the like (FunctionArguments), before any state check
//
// Thread-safety: a value type; parse() is a pure function.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tgpulse::tdsim {

struct TdRequest {
  nlohmann::json object;               // the whole request
  std::string type;                    // "@type"
  std::optional<nlohmann::json> extra; // "@extra", echoed in the answer when present

  // On failure *error is TDLib's error object (with "@extra" when the JSON had one).
  static std::optional<TdRequest> parse(std::string_view text, nlohmann::json* error);
  // Whether tdsim knows the function name (simulated, static, or a TDLib function it does not play).
  static bool known_function(std::string_view type);

  static nlohmann::json error(int code, std::string message);
  static nlohmann::json ok() { return {{"@type", "ok"}}; }
};

}  // namespace tgpulse::tdsim
