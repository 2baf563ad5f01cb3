#include "telemetry/exposition.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace tgpulse::telemetry {
namespace {

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

void append_escaped(std::string& out, std::string_view v, bool escape_quote) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '"':
        if (escape_quote) {
          out += "\\\"";
        } else {
          out.push_back(c);
        }
        break;
      default:
        out.push_back(c);
    }
  }
}

void append_uint(std::string& out, std::uint64_t v) {
  std::array<char, 24> buf;
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  (void)ec;
  out.append(buf.data(), end);
}

void append_hex(std::string& out, const std::uint8_t* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0x0f]);
  }
}

}  // namespace

void ExpositionWriter::append_label_value(std::string& out, std::string_view v) {
  append_escaped(out, v, true);
}

void ExpositionWriter::append_help_text(std::string& out, std::string_view v) {
  append_escaped(out, v, false);
}

void ExpositionWriter::append_go_float(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  // Shortest round-trip digits and decimal exponent, then Go's %g layout decision.
  std::array<char, 32> buf;
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific);
  (void)ec;
  std::string_view sci(buf.data(), static_cast<std::size_t>(end - buf.data()));
  bool negative = false;
  if (!sci.empty() && sci.front() == '-') {
    negative = true;
    sci.remove_prefix(1);
  }
  const std::size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();

  if (negative) out.push_back('-');
  if (exponent < -4 || exponent >= 6) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    const int magnitude = std::abs(exponent);
    if (magnitude < 10) out.push_back('0');
    append_uint(out, static_cast<std::uint64_t>(magnitude));
    return;
  }
  if (exponent >= 0) {
    const auto int_digits = static_cast<std::size_t>(exponent) + 1;
    if (digits.size() <= int_digits) {
      out += digits;
      out.append(int_digits - digits.size(), '0');
    } else {
      out.append(digits, 0, int_digits);
      out.push_back('.');
      out.append(digits, int_digits, std::string::npos);
    }
    return;
  }
  out += "0.";
  out.append(static_cast<std::size_t>(-exponent - 1), '0');
  out += digits;
}

void ExpositionWriter::append_number(std::string& out, double v) {
  if (v == std::floor(v) && std::fabs(v) < kMaxExactInteger) {
    if (v < 0) {
      out.push_back('-');
      append_uint(out, static_cast<std::uint64_t>(-v));
    } else {
      if (std::signbit(v)) out.push_back('-');  // -0
      append_uint(out, static_cast<std::uint64_t>(v));
    }
    return;
  }
  append_go_float(out, v);
}

std::string ExpositionWriter::le_value(double bound, ExpositionFormat format) {
  std::string s;
  append_go_float(s, bound);
  if (format == ExpositionFormat::openmetrics_100 && std::isfinite(bound) &&
      s.find_first_of(".e") == std::string::npos) {
    s += ".0";
  }
  return s;
}

std::string_view ExpositionWriter::counter_family_name(std::string_view name) noexcept {
  constexpr std::string_view kTotal = "_total";
  if (name.size() > kTotal.size() && name.substr(name.size() - kTotal.size()) == kTotal) {
    name.remove_suffix(kTotal.size());
  }
  return name;
}

void ExpositionWriter::metadata(std::string_view name, std::string_view help, detail::MetricType type) {
  std::string_view type_name = "gauge";
  if (type == detail::MetricType::counter) {
    type_name = "counter";
    if (openmetrics()) name = counter_family_name(name);
  } else if (type == detail::MetricType::histogram) {
    type_name = "histogram";
  }
  if (openmetrics()) {
    out_ += "# TYPE ";
    out_ += name;
    out_.push_back(' ');
    out_ += type_name;
    out_.push_back('\n');
    if (!help.empty()) {
      out_ += "# HELP ";
      out_ += name;
      out_.push_back(' ');
      append_label_value(out_, help);
      out_.push_back('\n');
    }
    return;
  }
  out_ += "# HELP ";
  out_ += name;
  out_.push_back(' ');
  append_help_text(out_, help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_.push_back(' ');
  out_ += type_name;
  out_.push_back('\n');
}

void ExpositionWriter::sample_start(std::string_view name, std::string_view suffix,
                                    std::string_view label_pairs, std::string_view extra_pair) {
  out_ += name;
  out_ += suffix;
  if (!label_pairs.empty() || !extra_pair.empty()) {
    out_.push_back('{');
    out_ += label_pairs;
    if (!label_pairs.empty() && !extra_pair.empty()) out_.push_back(',');
    out_ += extra_pair;
    out_.push_back('}');
  }
  out_.push_back(' ');
}

void ExpositionWriter::value(double v) { append_number(out_, v); }

void ExpositionWriter::value(std::uint64_t v) { append_uint(out_, v); }

void ExpositionWriter::timestamp(double unix_seconds) {
  if (!(unix_seconds >= 0)) unix_seconds = 0;
  const auto millis = static_cast<std::uint64_t>(std::floor(unix_seconds * 1000.0));
  append_uint(out_, millis / 1000);
  out_.push_back('.');
  const auto frac = millis % 1000;
  if (frac < 100) out_.push_back('0');
  if (frac < 10) out_.push_back('0');
  append_uint(out_, frac);
}

void ExpositionWriter::exemplar(const detail::Exemplar& e) {
  if (!openmetrics()) return;
  out_ += " # {trace_id=\"";
  append_hex(out_, e.trace_id.data(), e.trace_id.size());
  out_ += "\",span_id=\"";
  append_hex(out_, e.span_id.data(), e.span_id.size());
  out_ += "\"} ";
  append_number(out_, e.value);
  out_.push_back(' ');
  timestamp(e.unix_seconds);
}

void ExpositionWriter::finish() {
  if (openmetrics()) out_ += "# EOF\n";
}

}  // namespace tgpulse::telemetry
