// Which update types exist and which a tenant wants (docs/updates.md, "Filters").
//
// - TDLib's update names are data: td_update_types.txt (every constructor of class Update in TDLib's
//   td_api.tl), compiled in at build time.
// - The service's own events (kServiceEventTypes) share the log and its shape.
// - What the service consumes itself or is engine noise (kInternalUpdateTypes) is never logged,
//   whatever a tenant asks for.
// - AllowedUpdates: a tenant's `allowed_updates` — exact @types, or prefixes written "updateChat*".
//   Each entry must name (or, as a prefix, match) at least one known type; at most kMaxAllowedEntries
//   entries of at most 64 characters. The default: messages, edits, deletions, chat read state and the
//   service's own events.
//
// Thread-safety: everything here is immutable after construction; share freely.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace tgpulse::updates {

inline constexpr std::array<std::string_view, 6> kServiceEventTypes = {
    "tgpulseSessionAuthorized", "tgpulseSessionRevoked",    "tgpulseSessionClosed",
    "tgpulseQrLoginExpired",    "tgpulsePhoneLoginExpired", "tgpulseUpdatesDropped"};

// Consumed by the service (the login and cleanup follow updateAuthorizationState; its outcomes are the
// tgpulseSession* events) or engine-internal noise a tenant cannot act on. Never logged.
inline constexpr std::array<std::string_view, 8> kInternalUpdateTypes = {
    "updateAuthorizationState", "updateOption", "updateConnectionState", "updateFile",
    "updateFileGenerationStart", "updateFileGenerationStop", "updateAnimationSearchParameters",
    "updateDiceEmojis"};

inline constexpr std::size_t kMaxAllowedEntries = 256;

// Every TDLib update name of td_update_types.txt, sorted.
const std::vector<std::string>& td_update_types();
bool is_known_type(std::string_view type);  // a TDLib update or a service event
bool is_internal_type(std::string_view type);

class AllowedUpdates {
 public:
  // The default set.
  static AllowedUpdates defaults();
  // Parses a JSON array of strings. invalid_argument names the first bad entry (unknown type, prefix
  // matching nothing, not a string, too long, too many, an internal type).
  static Result<AllowedUpdates> parse(const nlohmann::json& list);

  bool allows(std::string_view type) const;
  const std::vector<std::string>& entries() const noexcept { return entries_; }
  nlohmann::json to_json() const { return entries_; }

 private:
  std::vector<std::string> entries_;
};

}  // namespace tgpulse::updates
