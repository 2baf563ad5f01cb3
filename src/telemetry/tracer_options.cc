// TracerOptions::from_env: the OpenTelemetry SDK environment variables that tgpulse honours.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "telemetry/span_sampler.h"
#include "telemetry/tracer.h"

namespace tgpulse::telemetry {
namespace {

// The OTel spec treats an empty value as unset.
std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    int hi = i + 1 < in.size() ? hex_digit(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? hex_digit(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>((hi << 4) | lo));
    i += 2;
  }
  return true;
}

// "k=v,k2=v2" with percent-encoded keys and values (the W3C Baggage octets the OTel spec uses for
// OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS).
bool parse_key_values(const char* var, const std::string& text,
                      std::vector<std::pair<std::string, std::string>>* out, std::string* error) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string_view item(text.data() + start, (comma == std::string::npos ? text.size() : comma) - start);
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (trim(item).empty()) continue;
    std::size_t eq = item.find('=');
    std::string key;
    std::string value;
    if (eq == std::string_view::npos || !percent_decode(trim(item.substr(0, eq)), &key) || key.empty() ||
        !percent_decode(trim(item.substr(eq + 1)), &value)) {
      // The item may hold a secret (an auth header): name the variable and the position only.
      *error = fmt::format("{}: item {} is not key=value with percent-encoded key and value", var,
                           out->size() + 1);
      return false;
    }
    out->emplace_back(std::move(key), std::move(value));
  }
  return true;
}

bool parse_positive(const char* var, const std::string& text, std::int64_t* out, std::string* error) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || v <= 0) {
    *error = fmt::format("{}: \"{}\" is not a positive integer", var, text);
    return false;
  }
  *out = v;
  return true;
}

bool parse_millis(const char* var, std::chrono::milliseconds* out, std::string* error) {
  auto text = env(var);
  if (!text) return true;
  std::int64_t v = 0;
  if (!parse_positive(var, *text, &v, error)) return false;
  *out = std::chrono::milliseconds(v);
  return true;
}

bool parse_size(const char* var, std::size_t* out, std::string* error) {
  auto text = env(var);
  if (!text) return true;
  std::int64_t v = 0;
  if (!parse_positive(var, *text, &v, error)) return false;
  *out = static_cast<std::size_t>(v);
  return true;
}

bool valid_url(const std::string& url) {
  return (url.rfind("http://", 0) == 0 && url.size() > 7) || (url.rfind("https://", 0) == 0 && url.size() > 8);
}

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

bool TracerOptions::from_env(TracerOptions* out, std::string* error) {
  TracerOptions o = *out;

  if (auto v = env("OTEL_SDK_DISABLED")) {
    std::string s = lowercase(trim(*v));
    if (s != "true" && s != "false") {
      *error = fmt::format("OTEL_SDK_DISABLED: \"{}\" is not true or false", *v);
      return false;
    }
    o.sdk_disabled = s == "true";
  }

  if (auto v = env("OTEL_RESOURCE_ATTRIBUTES")) {
    std::vector<std::pair<std::string, std::string>> pairs;
    if (!parse_key_values("OTEL_RESOURCE_ATTRIBUTES", *v, &pairs, error)) return false;
    o.resource_attributes.clear();
    for (auto& [key, value] : pairs) {
      if (key == "service.name") {
        o.service_name = value;  // OTEL_SERVICE_NAME, below, takes precedence
      } else {
        o.resource_attributes.push_back(Attr{key, value});
      }
    }
  }
  if (auto v = env("OTEL_SERVICE_NAME")) o.service_name = *v;

  if (auto v = env("OTEL_TRACES_SAMPLER")) o.sampler = lowercase(trim(*v));
  if (auto v = env("OTEL_TRACES_SAMPLER_ARG")) {
    errno = 0;
    char* end = nullptr;
    double arg = std::strtod(v->c_str(), &end);
    if (errno != 0 || end == v->c_str() || *end != '\0') {
      *error = fmt::format("OTEL_TRACES_SAMPLER_ARG: \"{}\" is not a number", *v);
      return false;
    }
    o.sampler_arg = arg;
  }
  {
    SpanSampler sampler;
    std::string why;
    if (!SpanSampler::parse(o.sampler, o.sampler_arg, &sampler, &why)) {
      bool ratio_problem = o.sampler.find("traceidratio") != std::string::npos;
      *error = fmt::format("{}: {}", ratio_problem ? "OTEL_TRACES_SAMPLER_ARG" : "OTEL_TRACES_SAMPLER", why);
      return false;
    }
  }

  for (const char* var : {"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"}) {
    if (auto v = env(var); v && lowercase(trim(*v)) != "http/json") {
      *error = fmt::format("{}: \"{}\" is not supported (tgpulse exports http/json)", var, *v);
      return false;
    }
  }
  bool exporter_none = false;
  if (auto v = env("OTEL_TRACES_EXPORTER")) {
    std::string s = lowercase(trim(*v));
    if (s != "otlp" && s != "none") {
      *error = fmt::format("OTEL_TRACES_EXPORTER: \"{}\" is not supported (allowed: otlp, none)", *v);
      return false;
    }
    exporter_none = s == "none";
  }
  if (auto v = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
    if (!valid_url(*v)) {
      *error = fmt::format("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: \"{}\" is not an http:// or https:// URL", *v);
      return false;
    }
    o.endpoint = *v;
  } else if (auto base = env("OTEL_EXPORTER_OTLP_ENDPOINT")) {
    if (!valid_url(*base)) {
      *error = fmt::format("OTEL_EXPORTER_OTLP_ENDPOINT: \"{}\" is not an http:// or https:// URL", *base);
      return false;
    }
    std::string url = *base;
    while (!url.empty() && url.back() == '/') url.pop_back();
    o.endpoint = url + "/v1/traces";
  }
  if (exporter_none) o.endpoint.clear();

  for (const char* var : {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}) {
    auto v = env(var);
    if (!v) continue;
    std::vector<std::pair<std::string, std::string>> pairs;
    if (!parse_key_values(var, *v, &pairs, error)) return false;
    for (auto& [key, value] : pairs) {  // the traces-specific variable overrides the generic one
      // Named, not captured: clang 15 cannot capture a structured binding.
      const std::string name = lowercase(key);
      auto same = [&name](const auto& h) { return lowercase(h.first) == name; };
      o.headers.erase(std::remove_if(o.headers.begin(), o.headers.end(), same), o.headers.end());
      o.headers.emplace_back(std::move(key), std::move(value));
    }
  }

  if (!parse_millis("OTEL_EXPORTER_OTLP_TIMEOUT", &o.export_timeout, error) ||
      !parse_millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", &o.export_timeout, error) ||
      !parse_millis("OTEL_BSP_SCHEDULE_DELAY", &o.schedule_delay, error) ||
      !parse_millis("OTEL_BSP_EXPORT_TIMEOUT", &o.bsp_export_timeout, error) ||
      !parse_size("OTEL_BSP_MAX_QUEUE_SIZE", &o.max_queue_size, error) ||
      !parse_size("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &o.max_export_batch_size, error)) {
    return false;
  }
  if (o.max_export_batch_size > o.max_queue_size) {
    *error = fmt::format("OTEL_BSP_MAX_EXPORT_BATCH_SIZE: {} is larger than OTEL_BSP_MAX_QUEUE_SIZE ({})",
                         o.max_export_batch_size, o.max_queue_size);
    return false;
  }
  *out = std::move(o);
  return true;
}

}  // namespace tgpulse::telemetry
