// BoundedJsonParser: parses JSON that came from outside (an HTTP body, a TDLib answer) while enforcing a
// nesting depth and a value count, so nothing later — a copy, dump(), a recursive walk — ever sees a
// document deep or large enough to exhaust the stack or the heap. The limits are checked during the parse
// (nlohmann's SAX parser, which is iterative): a 100,000-deep body stops at level max_depth + 1 after
// reading those few bytes, before any tree exists.
//
// Optionally it also reports the top-level scalar members named in `envelope_keys` (TDLib's "@extra" and
// "@client_id", which TDLib appends after the payload) even when the document is over the limits: the
// parser then stops building and only scans on, so the engine can still route an error to the waiting
// request.
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace tgpulse {

struct JsonLimits {
  // Deepest nesting: the top-level object or array is level 1. Default 64 — TDLib's own objects nest far
  // less, and a recursive walk of 64 levels is harmless.
  std::size_t max_depth = 64;
  // Most values (scalars, objects and arrays, keys not counted). Default 100,000: a 1 MiB body (the
  // server's default body limit) of minimal values ("0,") would otherwise become ~500,000 tree nodes.
  std::size_t max_values = 100000;
};

enum class JsonFault {
  none,
  syntax,           // not JSON
  too_deep,         // nests deeper than max_depth
  too_many_values,  // has more than max_values values
};

struct ParsedJson {
  nlohmann::json value;                               // the document when fault == none, else null
  JsonFault fault = JsonFault::none;
  nlohmann::json envelope = nlohmann::json::object();  // requested top-level scalar members found
  std::size_t depth = 0;                              // deepest level seen (up to the fault)
  std::size_t values = 0;                             // values seen (up to the fault)

  bool ok() const noexcept { return fault == JsonFault::none; }
  bool over_limits() const noexcept { return fault == JsonFault::too_deep || fault == JsonFault::too_many_values; }
  // What is wrong, naming the limit ("nests deeper than the limit of 64 levels"); "" when ok.
  std::string message(const JsonLimits& limits) const;
};

class BoundedJsonParser {
 public:
  // Never throws (an allocation failure reports JsonFault::too_many_values).
  static ParsedJson parse(std::string_view text, const JsonLimits& limits,
                          std::initializer_list<std::string_view> envelope_keys = {}) noexcept;
};

}  // namespace tgpulse
