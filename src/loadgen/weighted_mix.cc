#include "loadgen/weighted_mix.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace tgpulse::loadgen {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool valid_method(std::string_view m) {
  return !m.empty() && std::isalpha(static_cast<unsigned char>(m.front())) &&
         std::all_of(m.begin(), m.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

nlohmann::json WeightedMix::function_for(std::string_view method) {
  using nlohmann::json;
  if (method == "getChats") return json{{"@type", "getChats"}, {"limit", 20}};
  if (method == "getChat") return json{{"@type", "getChat"}, {"chat_id", 1}};
  if (method == "getChatHistory") {
    return json{{"@type", "getChatHistory"}, {"chat_id", 1}, {"from_message_id", 0}, {"offset", 0}, {"limit", 20}};
  }
  if (method == "searchPublicChat") return json{{"@type", "searchPublicChat"}, {"username", "telegram"}};
  if (method == "getUser") return json{{"@type", "getUser"}, {"user_id", 1}};
  if (method == "sendMessage") {
    return json{{"@type", "sendMessage"},
                {"chat_id", 1},
                {"input_message_content",
                 {{"@type", "inputMessageText"}, {"text", {{"@type", "formattedText"}, {"text", "load test"}}}}}};
  }
  return json{{"@type", std::string(method)}};
}

Result<WeightedMix> WeightedMix::parse(std::string_view spec) {
  WeightedMix mix;
  double total = 0;
  std::string_view rest = spec;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (item.empty()) continue;
    std::string_view method = item;
    double weight = 1;
    if (const auto eq = item.find('='); eq != std::string_view::npos) {
      method = trim(item.substr(0, eq));
      std::string_view w = trim(item.substr(eq + 1));
      auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), weight);
      if (ec != std::errc{} || end != w.data() + w.size() || !std::isfinite(weight) || weight <= 0) {
        return Error(Errc::invalid_argument, "--mix: weight of " + std::string(method) + " must be a positive number");
      }
    }
    if (!valid_method(method)) return Error(Errc::invalid_argument, "--mix: bad method name \"" + std::string(method) + "\"");
    if (std::any_of(mix.entries_.begin(), mix.entries_.end(), [&](const MixEntry& e) { return e.method == method; })) {
      return Error(Errc::invalid_argument, "--mix: " + std::string(method) + " is listed twice");
    }
    total += weight;
    mix.entries_.push_back(MixEntry{std::string(method), weight, function_for(method)});
    mix.cumulative_.push_back(total);
  }
  if (mix.entries_.empty()) return Error(Errc::invalid_argument, "--mix: no methods given");
  return mix;
}

const MixEntry& WeightedMix::pick(double u) const noexcept {
  const double x = std::clamp(u, 0.0, 1.0) * cumulative_.back();
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), x);
  if (it == cumulative_.end()) --it;
  return entries_[static_cast<std::size_t>(it - cumulative_.begin())];
}

}  // namespace tgpulse::loadgen
