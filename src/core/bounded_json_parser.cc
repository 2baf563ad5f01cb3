#include "core/bounded_json_parser.h"

#include <algorithm>
#include <new>
#include <utility>
#include <vector>

namespace tgpulse {

namespace {

using json = nlohmann::json;

// Builds the tree while the limits hold; after a bounds fault it only tracks depth and the envelope.
class BoundedSax {
 public:
  BoundedSax(const JsonLimits& limits, std::initializer_list<std::string_view> envelope_keys, ParsedJson& out)
      : limits_(limits), envelope_keys_(envelope_keys), out_(out) {}

  bool null() { return scalar(json(nullptr)); }
  bool boolean(bool v) { return scalar(json(v)); }
  bool number_integer(json::number_integer_t v) { return scalar(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return scalar(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return scalar(json(v)); }
  bool string(json::string_t& v) { return scalar(json(std::move(v))); }
  bool binary(json::binary_t&) { return scalar(json(nullptr)); }  // not produced by the text parser

  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(json::string_t& k) {
    if (depth_ == 1) top_key_ = k;
    if (!scanning_) key_ = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    if (out_.fault == JsonFault::none) out_.fault = JsonFault::syntax;
    return false;
  }

 private:
  // Counts one value; false (and the fault recorded) when it is one too many.
  bool count() {
    if (scanning_) return true;
    if (++out_.values > limits_.max_values) return fault(JsonFault::too_many_values);
    return true;
  }

  bool fault(JsonFault f) {
    out_.fault = f;
    stack_.clear();
    out_.value = json();
    if (envelope_keys_.size() == 0) return false;  // nothing more to learn: stop reading
    scanning_ = true;
    return true;
  }

  bool scalar(json v) {
    if (depth_ == 1 && envelope_keys_.size() != 0 &&
        std::find(envelope_keys_.begin(), envelope_keys_.end(), top_key_) != envelope_keys_.end()) {
      out_.envelope[top_key_] = v;
    }
    if (!count()) return false;
    if (scanning_) return true;
    place(std::move(v));
    return true;
  }

  bool open(json::value_t type) {
    ++depth_;
    if (scanning_) return true;
    if (!count()) return false;
    if (scanning_) return true;
    out_.depth = std::max(out_.depth, depth_);
    if (depth_ > limits_.max_depth) return fault(JsonFault::too_deep);
    stack_.push_back(place(json(type)));
    return true;
  }

  bool close() {
    --depth_;
    if (!scanning_) stack_.pop_back();
    return true;
  }

  // Puts `v` where the parse is (the root, the current array, or the current object under key_).
  json* place(json v) {
    if (stack_.empty()) {
      out_.value = std::move(v);
      return &out_.value;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.get_ref<json::array_t&>().push_back(std::move(v));
      return &parent.get_ref<json::array_t&>().back();
    }
    json& slot = parent[key_];
    slot = std::move(v);
    return &slot;
  }

  const JsonLimits& limits_;
  std::initializer_list<std::string_view> envelope_keys_;
  ParsedJson& out_;
  std::vector<json*> stack_;  // the open containers (pointers stay valid: only the innermost grows)
  std::size_t depth_ = 0;
  std::string key_;
  std::string top_key_;
  bool scanning_ = false;
};

}  // namespace

std::string ParsedJson::message(const JsonLimits& limits) const {
  switch (fault) {
    case JsonFault::none:
      return {};
    case JsonFault::syntax:
      return "is not valid JSON";
    case JsonFault::too_deep:
      return "nests deeper than the limit of " + std::to_string(limits.max_depth) + " levels";
    case JsonFault::too_many_values:
      return "has more than the limit of " + std::to_string(limits.max_values) + " values";
  }
  return {};
}

ParsedJson BoundedJsonParser::parse(std::string_view text, const JsonLimits& limits,
                                    std::initializer_list<std::string_view> envelope_keys) noexcept {
  ParsedJson out;
  try {
    BoundedSax sax(limits, envelope_keys, out);
    const bool complete = json::sax_parse(text.begin(), text.end(), &sax);
    if (!complete && out.fault == JsonFault::none) out.fault = JsonFault::syntax;
  } catch (const std::bad_alloc&) {
    out.fault = JsonFault::too_many_values;
  } catch (...) {
    if (out.fault == JsonFault::none) out.fault = JsonFault::syntax;
  }
  if (!out.ok()) out.value = json();
  return out;
}

}  // namespace tgpulse
