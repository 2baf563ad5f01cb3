// Fuzz target: the TDLib answer codec (src/td/td_codec.*). The input is one line as td_receive would
// return it; everything the engine's receive loop reads from such a line is read here the same way
// (src/td/engine.cc): parse, @client_id, @type, @extra, error → Error, authorization states.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "td/td_codec.h"

using tgpulse::td::AuthorizationState;
using tgpulse::td::TdCodec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)TdCodec::retry_after(text);
  auto doc = TdCodec::parse(text);
  if (!doc) return 0;
  // What the codec reads is what the line says: a number that does not fit is refused, never wrapped
  // (a wrapped @client_id routes the answer to another client; a wrapped code 429 becomes a FloodWait).
  if (auto id = TdCodec::client_id_of(*doc)) {
    if (doc->at("@client_id") != *id) std::abort();
  }
  if (auto extra = TdCodec::extra_of(*doc)) {
    if (doc->at("@extra") != *extra) std::abort();
  }
  const std::string type(TdCodec::type_of(*doc));
  if (TdCodec::is_error(*doc)) {
    const auto error = TdCodec::error_from(*doc);
    if (error.td_code != 0 && doc->value("code", nlohmann::json()) != error.td_code) std::abort();
    if (error.code == tgpulse::Errc::flood_wait && doc->value("code", nlohmann::json()) != 429) std::abort();
  }
  if (auto it = doc->find("message"); it != doc->end() && it->is_string()) {
    (void)TdCodec::retry_after(it->get_ref<const std::string&>());
  }
  if (type == "updateAuthorizationState") {
    if (auto it = doc->find("authorization_state"); it != doc->end()) {
      const AuthorizationState state = TdCodec::authorization_state(*it);
      (void)TdCodec::state_label(state);
      (void)TdCodec::state_type_name(state);
    }
  }
  const AuthorizationState state = TdCodec::authorization_state_from_type(type);
  (void)TdCodec::state_label(state);
  (void)TdCodec::state_type_name(state);
  return 0;
}
