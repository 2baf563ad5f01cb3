// Parsers for the value kinds of configuration keys: durations ("500ms", "120s", "2m", "1h30m"), byte
// sizes ("1MiB", "16KiB", "65536"), listen addresses ("127.0.0.1:8080", "[::1]:8080",
// "localhost:8080"), bounded integers and numbers, booleans. Each returns nullopt on a malformed value;
// the config schema turns that into a message naming the key and what is allowed.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tgpulse::app {

// One or more <number><unit> parts, unit one of ms, s, m, h, d; the number may have a fraction
// ("1.5s"). "0" alone is zero. No sign, no spaces.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// "120s", "2m", "500ms", "1h30m": the shortest exact spelling of a duration.
std::string format_duration(std::chrono::milliseconds d);

// An integer with an optional unit: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers of 1000);
// units are case-insensitive.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);
std::string format_byte_size(std::uint64_t bytes);

struct HostPort {
  std::string host;  // an IP literal (IPv6 without brackets); "localhost" becomes 127.0.0.1
  std::uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text);

std::optional<std::int64_t> parse_int(std::string_view text);
std::optional<double> parse_number(std::string_view text);
// true/false, yes/no, on/off, 1/0 (case-insensitive).
std::optional<bool> parse_bool(std::string_view text);

}  // namespace tgpulse::app
