#include "http/request.h"

namespace tgpulse::http {

std::string_view Request::param(std::string_view name) const noexcept {
  for (const auto& [k, v] : path_params) {
    if (k == name) return v;
  }
  return {};
}

std::optional<std::string_view> Request::query(std::string_view name) const noexcept {
  for (const auto& [k, v] : query_params) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view Request::header(std::string_view name) const noexcept {
  auto it = headers.find(name);
  if (it == headers.end()) return {};
  return it->value();
}

}  // namespace tgpulse::http
