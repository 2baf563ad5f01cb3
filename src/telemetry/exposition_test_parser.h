// ExpositionTestParser: a small, independent reader of the Prometheus text 0.0.4 / OpenMetrics 1.0
// formats for the metrics tests — it parses an exposition back into HELP/TYPE metadata and samples
// (with unescaped label values and the raw exemplar text) so tests assert on values, not on strings
// produced by the code under test. Header-only; test code only.
//
// Thread-safety: a value type.
#pragma once

#include <cmath>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tgpulse::telemetry::testing {

struct ParsedSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
  std::string exemplar;  // text after " # ", empty when none
};

struct ParsedExposition {
  std::map<std::string, std::string> help;  // family name -> unescaped help
  std::map<std::string, std::string> type;  // family name -> type
  std::vector<ParsedSample> samples;
  bool eof = false;  // saw "# EOF" as the last line

  // The value of the one sample with this name and exactly these labels; nullopt when absent.
  std::optional<double> value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nullopt;
  }
  const ParsedSample* find(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return &s;
    }
    return nullptr;
  }
};

inline double parse_number(const std::string& s) {
  if (s == "+Inf" || s == "Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  if (s == "NaN") return std::nan("");
  std::size_t used = 0;
  const double v = std::stod(s, &used);
  if (used != s.size()) throw std::runtime_error("bad number: " + s);
  return v;
}

// Reads an escaped string up to the closing quote at s[*pos]; advances past the quote.
inline std::string read_escaped(const std::string& s, std::size_t* pos, char terminator) {
  std::string out;
  while (*pos < s.size() && s[*pos] != terminator) {
    char c = s[(*pos)++];
    if (c == '\\') {
      if (*pos >= s.size()) throw std::runtime_error("dangling backslash: " + s);
      const char e = s[(*pos)++];
      if (e == 'n') {
        out.push_back('\n');
      } else if (e == '\\' || e == '"') {
        out.push_back(e);
      } else {
        throw std::runtime_error("unknown escape in: " + s);
      }
    } else {
      out.push_back(c);
    }
  }
  if (*pos >= s.size() && terminator != '\n') throw std::runtime_error("unterminated string: " + s);
  ++*pos;
  return out;
}

inline ParsedExposition parse_exposition(const std::string& text) {
  ParsedExposition result;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (result.eof) throw std::runtime_error("content after # EOF: " + line);
    if (line == "# EOF") {
      result.eof = true;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const std::string rest = line.substr(7);
      const std::size_t sp = rest.find(' ');
      const std::string name = rest.substr(0, sp);
      std::string body = sp == std::string::npos ? std::string() : rest.substr(sp + 1);
      if (line[2] == 'H') {
        std::size_t pos = 0;
        body.push_back('\n');
        result.help[name] = read_escaped(body, &pos, '\n');
      } else {
        result.type[name] = body;
      }
      continue;
    }
    if (line.empty() || line[0] == '#') throw std::runtime_error("unexpected line: " + line);
    ParsedSample sample;
    std::size_t pos = 0;
    while (pos < line.size() && line[pos] != '{' && line[pos] != ' ') ++pos;
    sample.name = line.substr(0, pos);
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        const std::size_t eq = line.find('=', pos);
        const std::string label = line.substr(pos, eq - pos);
        pos = eq + 1;
        if (line[pos] != '"') throw std::runtime_error("label value not quoted: " + line);
        ++pos;
        sample.labels[label] = read_escaped(line, &pos, '"');
        if (line[pos] == ',') ++pos;
      }
      ++pos;  // '}'
    }
    if (pos >= line.size() || line[pos] != ' ') throw std::runtime_error("no value: " + line);
    ++pos;
    const std::size_t exemplar_at = line.find(" # ", pos);
    const std::string value_text =
        line.substr(pos, exemplar_at == std::string::npos ? std::string::npos : exemplar_at - pos);
    sample.value = parse_number(value_text);
    if (exemplar_at != std::string::npos) sample.exemplar = line.substr(exemplar_at + 3);
    result.samples.push_back(std::move(sample));
  }
  return result;
}

}  // namespace tgpulse::telemetry::testing
