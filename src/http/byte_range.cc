#include "http/byte_range.h"

#include <algorithm>
#include <charconv>
#include <optional>

namespace tgpulse::http {

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

ByteRange parse_range(std::string_view header, std::uint64_t size) {
  ByteRange whole{ByteRange::Kind::whole, 0, size};
  constexpr std::string_view kUnit = "bytes=";
  if (header.substr(0, kUnit.size()) != kUnit) return whole;
  std::string_view spec = header.substr(kUnit.size());
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  if (spec.find(',') != std::string_view::npos) return whole;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view a = spec.substr(0, dash);
  const std::string_view b = spec.substr(dash + 1);
  if (a.empty()) {  // the last b bytes
    const auto suffix = parse_decimal(b);
    if (!suffix) return whole;
    if (*suffix == 0 || size == 0) return {ByteRange::Kind::unsatisfiable, 0, 0};
    const std::uint64_t n = std::min(*suffix, size);
    return {ByteRange::Kind::partial, size - n, n};
  }
  const auto first = parse_decimal(a);
  if (!first) return whole;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    const auto l = parse_decimal(b);
    if (!l || *l < *first) return whole;
    last = std::min(*l, last);
  }
  if (*first >= size) return {ByteRange::Kind::unsatisfiable, 0, 0};
  return {ByteRange::Kind::partial, *first, last - *first + 1};
}

}  // namespace tgpulse::http
