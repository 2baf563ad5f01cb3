// ByteRange: the one byte range of a "Range" request header (RFC 9110 §14.1.2) a file download
// answers with 206 — "bytes=first-last", "bytes=first-" or "bytes=-suffix" — against a file of known
// size. Several ranges, another unit or a malformed header are ignored (the whole file, as the RFC
// allows); a range starting at or past the end is unsatisfiable (416).
//
// Thread-safety: a value type; parse_range is a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tgpulse::http {

struct ByteRange {
  enum class Kind { whole, partial, unsatisfiable } kind = Kind::whole;
  std::uint64_t first = 0;   // partial: the first byte
  std::uint64_t length = 0;  // partial: bytes from `first` (≥ 1); whole: the size
};

ByteRange parse_range(std::string_view header, std::uint64_t size);

// Plain decimal digits (no sign, no blanks, at most 19 digits) as a number; nullopt otherwise. The
// numbers of a range, and ids in paths.
std::optional<std::uint64_t> parse_decimal(std::string_view digits);

}  // namespace tgpulse::http
