#include "updates/update_types.h"

#include <algorithm>
#include <cctype>

namespace tgpulse::updates {
namespace {

// Generated from td_update_types.txt by CMake: "updateActiveEmojiReactions", ...
constexpr const char* kTdUpdateTypes[] = {
#include "updates/td_update_types.inc"
};

constexpr std::size_t kMaxEntryLength = 64;

bool is_prefix_entry(std::string_view entry) { return !entry.empty() && entry.back() == '*'; }

bool entry_matches(std::string_view entry, std::string_view type) {
  if (is_prefix_entry(entry)) return type.starts_with(entry.substr(0, entry.size() - 1));
  return type == entry;
}

bool any_known_matches(std::string_view entry) {
  for (const auto& t : td_update_types()) {
    if (entry_matches(entry, t) && !is_internal_type(t)) return true;
  }
  for (auto t : kServiceEventTypes) {
    if (entry_matches(entry, t)) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& td_update_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> v(std::begin(kTdUpdateTypes), std::end(kTdUpdateTypes));
    std::sort(v.begin(), v.end());
    return v;
  }();
  return types;
}

bool is_internal_type(std::string_view type) {
  return std::find(kInternalUpdateTypes.begin(), kInternalUpdateTypes.end(), type) != kInternalUpdateTypes.end();
}

bool is_known_type(std::string_view type) {
  const auto& td = td_update_types();
  return std::binary_search(td.begin(), td.end(), type) ||
         std::find(kServiceEventTypes.begin(), kServiceEventTypes.end(), type) != kServiceEventTypes.end();
}

AllowedUpdates AllowedUpdates::defaults() {
  AllowedUpdates a;
  a.entries_ = {"updateNewMessage",    "updateMessageEdited", "updateMessageContent",
                "updateDeleteMessages", "updateChatReadInbox", "updateChatReadOutbox", "tgpulse*"};
  return a;
}

Result<AllowedUpdates> AllowedUpdates::parse(const nlohmann::json& list) {
  if (!list.is_array()) return Error(Errc::invalid_argument, "allowed_updates must be an array of update types");
  if (list.size() > kMaxAllowedEntries) {
    return Error(Errc::invalid_argument, "allowed_updates has more than " + std::to_string(kMaxAllowedEntries) + " entries");
  }
  AllowedUpdates a;
  for (const auto& item : list) {
    if (!item.is_string()) return Error(Errc::invalid_argument, "allowed_updates entries must be strings");
    const auto& entry = item.get_ref<const std::string&>();
    if (entry.empty() || entry.size() > kMaxEntryLength) {
      return Error(Errc::invalid_argument, "allowed_updates entries must be 1.." + std::to_string(kMaxEntryLength) + " characters");
    }
    const bool ok_chars = std::all_of(entry.begin(), entry.end() - (is_prefix_entry(entry) ? 1 : 0),
                                      [](unsigned char c) { return std::isalnum(c) != 0; });
    if (!ok_chars) {
      return Error(Errc::invalid_argument,
                   "allowed_updates entries are letters and digits, with an optional '*' at the end for a prefix");
    }
    if (is_internal_type(entry)) {
      return Error(Errc::invalid_argument, "allowed_updates entry '" + entry + "' is consumed by the service and never delivered");
    }
    if (!any_known_matches(entry)) {
      return Error(Errc::invalid_argument,
                   "allowed_updates entry '" + entry + "' is not a known update type" +
                       (is_prefix_entry(entry) ? " prefix" : ""));
    }
    if (std::find(a.entries_.begin(), a.entries_.end(), entry) == a.entries_.end()) a.entries_.push_back(entry);
  }
  return a;
}

bool AllowedUpdates::allows(std::string_view type) const {
  if (is_internal_type(type)) return false;
  return std::any_of(entries_.begin(), entries_.end(), [&](const std::string& e) { return entry_matches(e, type); });
}

}  // namespace tgpulse::updates
