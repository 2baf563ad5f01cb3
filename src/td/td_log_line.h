// TdLogLine: one message from TDLib's log callback, split into its header fields and text, with the
// flood wait TDLib absorbed internally recognised. TDLib formats a line as
//   [ 2][t 4][1764000000.123456789][NetQueryDelayer.cpp:103][#1][!NetQueryDelayer]\tDelay: ... \n
// and NetQueryDelayer writes, at WARNING (verbosity 2), when it sleeps a FLOOD_WAIT itself:
//   Delay: [Query:...] [timeout:N][total_timeout:T] because of [Error : 420 : FLOOD_WAIT_N] from ...
// and, when the accumulated wait would pass its limit (60 s) and the query fails with 429 instead:
//   Failed: [Query:...] [timeout:N][total_timeout:T] because of [Error : 420 : FLOOD_WAIT_N] from ...
// (see docs/engine.md). Secrets TDLib may print at verbose levels (api_hash, passwords, encryption keys,
// login tokens and links) are masked in `text`.
//
// Thread-safety: a value type; parse() is a pure function.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tgpulse::td {

struct AbsorbedFloodWait {
  int seconds = 0;        // this delay (timeout:N)
  int total_seconds = 0;  // the query's accumulated wait (total_timeout:T)
};

struct TdLogLine {
  int verbosity = 0;        // TDLib verbosity: 0 fatal, 1 error, 2 warning, 3 info, 4 debug, 5+ verbose
  std::string source;       // "NetQueryDelayer.cpp:103", "" when the header is absent
  int client_id = 0;        // [#N] when present, else 0
  std::string text;         // the message after the header, secrets masked, trailing newline removed
  std::optional<AbsorbedFloodWait> absorbed_flood_wait;  // a "Delay: ... FLOOD_WAIT_N" line
  bool flood_wait_failed = false;                        // a "Failed: ... FLOOD_WAIT_N" line (becomes a 429)

  static TdLogLine parse(int verbosity, std::string_view message);
  // Masks secret values in free text (api_hash = "...", password, database_encryption_key, tokens,
  // tg://login?token=...).
  static std::string mask_secrets(std::string_view text);
};

}  // namespace tgpulse::td
