#include "tdsim/profile.h"

#include <cmath>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace tgpulse::tdsim {
namespace {

using nlohmann::json;

json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& v : node) out.push_back(yaml_to_json(v));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const auto& s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted
      if (s == "true") return true;
      if (s == "false") return false;
      try {
        std::size_t used = 0;
        long long i = std::stoll(s, &used);
        if (used == s.size()) return i;
      } catch (...) {
      }
      try {
        std::size_t used = 0;
        double d = std::stod(s, &used);
        if (used == s.size()) return d;
      } catch (...) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

// Upper bound of every number in a profile: large enough for any setting (1e9 s is 30 years), small
// enough that the simulator's conversions to microseconds and int stay in range.
constexpr double kMaxNumber = 1e9;
// Incoming traffic: a rate per client beyond this is a benchmark of the simulator, not of the service;
// an offline mailbox beyond this is a file the simulator rewrites on every message.
constexpr double kMaxIncomingRate = 10000;
constexpr double kMaxIncomingPending = 100000;

struct Reader {
  std::string error;
  // A finite number in [min, kMaxNumber] (YAML's .nan/.inf and 1e400 are refused).
  bool number(const json& obj, const char* key, const std::string& path, double* out, double min = 0) {
    auto it = obj.find(key);
    if (it == obj.end()) return true;
    const double v = it->is_number() ? it->get<double>() : 0;
    if (!it->is_number() || !std::isfinite(v) || v < min || v > kMaxNumber) {
      error = path + key + " must be a number from " + std::to_string(min) + " to 1e9";
      return false;
    }
    *out = v;
    return true;
  }
  // The RNG seed: any integer from 0 to 2^64-1.
  bool seed(const json& obj, std::uint64_t* out) {
    auto it = obj.find("seed");
    if (it == obj.end()) return true;
    if (it->is_number_unsigned()) {
      *out = it->get<std::uint64_t>();
      return true;
    }
    if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      *out = static_cast<std::uint64_t>(it->get<std::int64_t>());
      return true;
    }
    if (it->is_number_float()) {
      const double v = it->get<double>();
      if (std::isfinite(v) && v >= 0 && v < 0x1p64 && v == std::floor(v)) {
        *out = static_cast<std::uint64_t>(v);
        return true;
      }
    }
    error = "seed must be an integer from 0 to 18446744073709551615";
    return false;
  }
  bool probability(const json& obj, const char* key, const std::string& path, double* out) {
    if (!number(obj, key, path, out)) return false;
    if (*out > 1) {
      error = path + key + " must be within [0, 1]";
      return false;
    }
    return true;
  }
  // An integer in [min, max].
  bool integer(const json& obj, const char* key, const std::string& path, int* out, int min, int max) {
    auto it = obj.find(key);
    if (it == obj.end()) return true;
    const double v = it->is_number() ? it->get<double>() : 0;
    if (!it->is_number() || !std::isfinite(v) || v != std::floor(v) || v < min || v > max) {
      error = path + key + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
      return false;
    }
    *out = static_cast<int>(v);
    return true;
  }
  bool boolean(const json& obj, const char* key, bool* out) {
    auto it = obj.find(key);
    if (it == obj.end()) return true;
    if (!it->is_boolean()) {
      error = std::string(key) + " must be true or false";
      return false;
    }
    *out = it->get<bool>();
    return true;
  }
  // Every key of `obj` is one of `keys`.
  bool known_keys(const json& obj, const std::string& path, std::initializer_list<const char*> keys) {
    for (const auto& [key, value] : obj.items()) {
      bool known = false;
      for (const char* k : keys) known = known || key == k;
      if (!known) {
        error = "unknown key " + path + key;
        return false;
      }
    }
    return true;
  }
  bool string(const json& obj, const char* key, const std::string& path, std::string* out) {
    auto it = obj.find(key);
    if (it == obj.end()) return true;
    if (!it->is_string()) {
      error = path + key + " must be a string";
      return false;
    }
    *out = it->get<std::string>();
    return true;
  }
  bool range(const json& obj, const char* key, const std::string& path, LatencyRange* out) {
    auto it = obj.find(key);
    if (it == obj.end()) return true;
    if (!it->is_object()) {
      error = path + key + " must be an object {min, max}";
      return false;
    }
    const std::string p = path + key + ".";
    if (!number(*it, "min", p, &out->min_ms) || !number(*it, "max", p, &out->max_ms)) return false;
    if (out->max_ms < out->min_ms) {
      error = p + "max must be >= min";
      return false;
    }
    return true;
  }
  bool flood(const json& obj, const std::string& path, FloodLimit* out) {
    if (!obj.is_object()) {
      error = path + " must be an object {rate_per_second, burst}";
      return false;
    }
    return number(obj, "rate_per_second", path + ".", &out->rate_per_second) &&
           number(obj, "burst", path + ".", &out->burst);
  }
};

json range_json(const LatencyRange& r) { return {{"min", r.min_ms}, {"max", r.max_ms}}; }
json flood_json(const FloodLimit& f) { return {{"rate_per_second", f.rate_per_second}, {"burst", f.burst}}; }

}  // namespace

Result<Profile> Profile::apply(const Profile& base, const json& patch) {
  if (!patch.is_object()) return Error(Errc::invalid_argument, "a tdsim profile must be an object");
  static const char* const kKeys[] = {"seed", "qr_token_ttl_seconds", "flood_wait_limit_seconds", "latency_ms",
                                      "auth_latency_ms", "method_latency_ms", "flood", "qr", "faults", "chats",
                                      "hold_restored_sessions", "incoming", "phone", "proxy", "files",
                                      "database_lock_wait_seconds"};
  for (const auto& [key, value] : patch.items()) {
    bool known = false;
    for (const char* k : kKeys) known = known || key == k;
    if (!known) return Error(Errc::invalid_argument, "unknown tdsim profile key: " + key);
  }
  Profile p = base;
  Reader r;
  std::uint64_t seed = p.seed;
  double chats = p.chats;
  bool ok = r.seed(patch, &seed) && r.number(patch, "qr_token_ttl_seconds", "", &p.qr_token_ttl_seconds, 0.01) &&
            r.number(patch, "flood_wait_limit_seconds", "", &p.flood_wait_limit_seconds) &&
            r.range(patch, "latency_ms", "", &p.latency) && r.range(patch, "auth_latency_ms", "", &p.auth_latency) &&
            r.number(patch, "chats", "", &chats) && r.boolean(patch, "hold_restored_sessions", &p.hold_restored_sessions) &&
            r.number(patch, "database_lock_wait_seconds", "", &p.database_lock_wait_seconds);
  if (ok && patch.contains("method_latency_ms")) {
    const auto& m = patch["method_latency_ms"];
    if (!m.is_object()) {
      r.error = "method_latency_ms must be an object {method: {min, max}}";
      ok = false;
    } else {
      for (const auto& [method, value] : m.items()) {
        LatencyRange lr;
        json wrapper = {{method, value}};
        if (!(ok = r.range(wrapper, method.c_str(), "method_latency_ms.", &lr))) break;
        p.method_latency[method] = lr;
      }
    }
  }
  if (ok && patch.contains("flood")) {
    const auto& f = patch["flood"];
    if (!f.is_object()) {
      r.error = "flood must be an object {default, methods}";
      ok = false;
    } else {
      if (f.contains("default")) ok = r.flood(f["default"], "flood.default", &p.default_flood);
      if (ok && f.contains("methods")) {
        if (!f["methods"].is_object()) {
          r.error = "flood.methods must be an object";
          ok = false;
        } else {
          for (const auto& [method, value] : f["methods"].items()) {
            FloodLimit fl = p.flood_for(method);
            if (!(ok = r.flood(value, "flood.methods." + method, &fl))) break;
            p.flood[method] = fl;
          }
        }
      }
    }
  }
  if (ok && patch.contains("qr")) {
    const auto& q = patch["qr"];
    ok = q.is_object() && r.probability(q, "scan_probability", "qr.", &p.qr.scan_probability) &&
         r.probability(q, "password_probability", "qr.", &p.qr.password_probability) &&
         r.probability(q, "decline_probability", "qr.", &p.qr.decline_probability) &&
         r.range(q, "scan_delay_ms", "qr.", &p.qr.scan_delay) && r.string(q, "password", "qr.", &p.qr.password) &&
         r.string(q, "password_hint", "qr.", &p.qr.password_hint);
    if (!q.is_object()) r.error = "qr must be an object";
  }
  if (ok && patch.contains("faults")) {
    const auto& f = patch["faults"];
    ok = f.is_object() && r.probability(f, "error_rate", "faults.", &p.faults.error_rate);
    if (!f.is_object()) r.error = "faults must be an object";
  }
  if (ok && patch.contains("incoming")) {
    const auto& in = patch["incoming"];
    double chats_used = p.incoming.chats;
    double max_pending = p.incoming.max_pending;
    ok = in.is_object() && r.number(in, "rate_per_second", "incoming.", &p.incoming.rate_per_second) &&
         r.number(in, "chats", "incoming.", &chats_used, 1) &&
         r.probability(in, "edit_probability", "incoming.", &p.incoming.edit_probability) &&
         r.probability(in, "delete_probability", "incoming.", &p.incoming.delete_probability) &&
         r.probability(in, "read_probability", "incoming.", &p.incoming.read_probability) &&
         r.number(in, "max_pending", "incoming.", &max_pending) &&
         r.number(in, "max_catch_up_seconds", "incoming.", &p.incoming.max_catch_up_seconds);
    if (!in.is_object()) r.error = "incoming must be an object";
    if (ok && p.incoming.rate_per_second > kMaxIncomingRate) {
      r.error = "incoming.rate_per_second must be at most " + std::to_string(static_cast<int>(kMaxIncomingRate));
      ok = false;
    }
    if (ok && max_pending > kMaxIncomingPending) {
      r.error = "incoming.max_pending must be at most " + std::to_string(static_cast<int>(kMaxIncomingPending));
      ok = false;
    }
    if (ok && p.incoming.edit_probability + p.incoming.delete_probability + p.incoming.read_probability > 1) {
      r.error = "incoming: edit_probability + delete_probability + read_probability must be at most 1";
      ok = false;
    }
    p.incoming.chats = static_cast<int>(chats_used);
    p.incoming.max_pending = static_cast<int>(max_pending);
  }
  if (ok && patch.contains("phone")) {
    const auto& ph = patch["phone"];
    ok = ph.is_object() && r.known_keys(ph, "phone.", {"code_ttl_seconds", "resend_timeout_seconds",
                                                       "code_sends_per_window", "flood_window_seconds"}) &&
         r.number(ph, "code_ttl_seconds", "phone.", &p.phone.code_ttl_seconds, 0.01) &&
         r.integer(ph, "resend_timeout_seconds", "phone.", &p.phone.resend_timeout_seconds, 0, 86400) &&
         r.integer(ph, "code_sends_per_window", "phone.", &p.phone.code_sends_per_window, 1, 1000000) &&
         r.number(ph, "flood_window_seconds", "phone.", &p.phone.flood_window_seconds, 0.01);
    if (!ph.is_object()) r.error = "phone must be an object";
  }
  if (ok && patch.contains("proxy")) {
    const auto& px = patch["proxy"];
    ok = px.is_object() && r.known_keys(px, "proxy.", {"ping_ms"}) && r.range(px, "ping_ms", "proxy.", &p.proxy.ping_ms);
    if (!px.is_object()) r.error = "proxy must be an object";
  }
  if (ok && patch.contains("files")) {
    const auto& fs = patch["files"];
    ok = fs.is_object() && r.known_keys(fs, "files.", {"throughput_bytes_per_second", "max_concurrent_downloads"}) &&
         r.number(fs, "throughput_bytes_per_second", "files.", &p.files.throughput_bytes_per_second, 1) &&
         r.integer(fs, "max_concurrent_downloads", "files.", &p.files.max_concurrent_downloads, 1, 64);
    if (!fs.is_object()) r.error = "files must be an object";
  }
  if (!ok) return Error(Errc::invalid_argument, "bad tdsim profile: " + r.error);
  p.seed = seed;
  p.chats = static_cast<int>(chats);  // within [0, 1e9] (Reader::number)
  return p;
}

Result<Profile> Profile::load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(Errc::not_found, "cannot read tdsim profile " + path);
  std::stringstream text;
  text << in.rdbuf();
  json doc;
  try {
    doc = yaml_to_json(YAML::Load(text.str()));  // YAML is a superset of JSON
  } catch (const YAML::Exception& e) {
    return Error(Errc::invalid_argument, "tdsim profile " + path + " is not YAML/JSON: " + e.what());
  }
  if (doc.is_null()) doc = json::object();
  auto p = apply(defaults(), doc);
  if (!p.ok()) return Error(Errc::invalid_argument, path + ": " + p.error().message);
  return p;
}

json Profile::to_json() const {
  json methods = json::object();
  for (const auto& [m, f] : flood) methods[m] = flood_json(f);
  json lat = json::object();
  for (const auto& [m, l] : method_latency) lat[m] = range_json(l);
  return {{"seed", seed},
          {"qr_token_ttl_seconds", qr_token_ttl_seconds},
          {"flood_wait_limit_seconds", flood_wait_limit_seconds},
          {"latency_ms", range_json(latency)},
          {"auth_latency_ms", range_json(auth_latency)},
          {"method_latency_ms", lat},
          {"flood", {{"default", flood_json(default_flood)}, {"methods", methods}}},
          {"qr",
           {{"scan_probability", qr.scan_probability},
            {"password_probability", qr.password_probability},
            {"decline_probability", qr.decline_probability},
            {"scan_delay_ms", range_json(qr.scan_delay)},
            {"password_hint", qr.password_hint}}},
          {"faults", {{"error_rate", faults.error_rate}}},
          {"chats", chats},
          {"hold_restored_sessions", hold_restored_sessions},
          {"database_lock_wait_seconds", database_lock_wait_seconds},
          {"incoming",
           {{"rate_per_second", incoming.rate_per_second},
            {"chats", incoming.chats},
            {"edit_probability", incoming.edit_probability},
            {"delete_probability", incoming.delete_probability},
            {"read_probability", incoming.read_probability},
            {"max_pending", incoming.max_pending},
            {"max_catch_up_seconds", incoming.max_catch_up_seconds}}},
          {"phone",
           {{"code_ttl_seconds", phone.code_ttl_seconds},
            {"resend_timeout_seconds", phone.resend_timeout_seconds},
            {"code_sends_per_window", phone.code_sends_per_window},
            {"flood_window_seconds", phone.flood_window_seconds}}},
          {"proxy", {{"ping_ms", range_json(proxy.ping_ms)}}},
          {"files",
           {{"throughput_bytes_per_second", files.throughput_bytes_per_second},
            {"max_concurrent_downloads", files.max_concurrent_downloads}}}};
}

const LatencyRange& Profile::latency_for(const std::string& method) const {
  auto it = method_latency.find(method);
  return it == method_latency.end() ? latency : it->second;
}

const FloodLimit& Profile::flood_for(const std::string& method) const {
  auto it = flood.find(method);
  return it == flood.end() ? default_flood : it->second;
}

}  // namespace tgpulse::tdsim
