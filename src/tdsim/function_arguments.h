// FunctionArguments: the type check TDLib's JSON interface makes on a function's arguments while it
// reads the request — before any state check, so a wrong-typed argument is answered 400 even before
// setTdlibParameters or authorization, never 401. tdsim runs it on the functions it plays; the messages
// are TDLib 1.8.67's (checked against the real library by the contract tests), each after the prefix
// "Failed to parse JSON object as TDLib request: ":
//   int32          Number or String holding an integer in range, else "Expected Number, but receive <T>";
//                  out of range or not an integer: "Can't parse as an integer string \"<text>\""
//   int53/int64    the same with "Expected String or Number, but receive <T>"
//   Bool           Boolean or Number (non-zero is true), else "Expected Boolean, but receive <T>"
//   string/bytes   "Expected String, but receive <T>" (the base64 of bytes is not checked)
//   object         "Expected Object, but receive <T>"; of an abstract type (ProxyType, ChatList, ...): without
//                  "@type": "Can't find field \"@type\"", a class not of that type: "Unknown class \"X\"";
//                  of a concrete class (proxy, phoneNumberAuthenticationSettings): "@type" not looked at
//   vector<x>      "Expected Array, but receive <T>", then each element as x
// <T> is Null, Boolean, Number, String, Array or Object. A null or missing argument takes its default.
// Fields are checked in TDLib's declaration order, so the first wrong one is the one reported. The
// fields of nested objects are checked for the proxy functions, resendAuthenticationCode's reason and
// setAuthenticationPhoneNumber's settings; other nested objects only for "@type".
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tgpulse::tdsim {

class FunctionArguments {
 public:
  // Checks the arguments of `function` (whose "@type" is `type`) and rewrites the accepted spellings to
  // their plain JSON type (an integer given as a string becomes a number, a Bool given as a number a
  // boolean), so the simulator reads them without surprises. Returns TDLib's message (without the
  // prefix) for the first wrong argument; nullopt when all are acceptable or `type` is not checked.
  static std::optional<std::string> check(std::string_view type, nlohmann::json& function);
};

}  // namespace tgpulse::tdsim
