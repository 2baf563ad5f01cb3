#include "telemetry/trace_context.h"

#include <algorithm>

namespace tgpulse::telemetry {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes) {
  std::string out(N * 2, '0');
  for (std::size_t i = 0; i < N; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0x0f];
  }
  return out;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // W3C: lowercase only
}

template <std::size_t N>
bool from_hex(std::string_view s, std::array<std::uint8_t, N>* out) noexcept {
  if (s.size() != N * 2) return false;
  for (std::size_t i = 0; i < N; ++i) {
    int hi = hex_value(s[2 * i]);
    int lo = hex_value(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return true;
}

template <std::size_t N>
bool all_zero(const std::array<std::uint8_t, N>& a) noexcept {
  return std::all_of(a.begin(), a.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace

bool SpanContext::valid() const noexcept { return !all_zero(trace_id) && !all_zero(span_id); }
std::string SpanContext::trace_id_hex() const { return to_hex(trace_id); }
std::string SpanContext::span_id_hex() const { return to_hex(span_id); }

std::string SpanContext::traceparent() const {
  std::string out = "00-";
  out += trace_id_hex();
  out += '-';
  out += span_id_hex();
  out += '-';
  out += kHex[flags >> 4];
  out += kHex[flags & 0x0f];
  return out;
}

std::optional<SpanContext> SpanContext::parse_traceparent(std::string_view h) noexcept {
  // version "-" trace-id "-" parent-id "-" flags; version 00 is exactly 55 chars, later versions may
  // append "-..." fields which we ignore (W3C Trace Context §4.3).
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  if (h.size() < 55) return std::nullopt;
  std::array<std::uint8_t, 1> version{};
  if (!from_hex(h.substr(0, 2), &version) || version[0] == 0xff) return std::nullopt;
  if (version[0] == 0 && h.size() != 55) return std::nullopt;
  if (h.size() > 55 && h[55] != '-') return std::nullopt;
  if (h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  SpanContext ctx;
  std::array<std::uint8_t, 1> flags{};
  if (!from_hex(h.substr(3, 32), &ctx.trace_id) || !from_hex(h.substr(36, 16), &ctx.span_id) ||
      !from_hex(h.substr(53, 2), &flags)) {
    return std::nullopt;
  }
  if (!ctx.valid()) return std::nullopt;
  ctx.flags = flags[0];
  ctx.remote = true;
  return ctx;
}

}  // namespace tgpulse::telemetry
