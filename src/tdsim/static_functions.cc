#include "tdsim/static_functions.h"

#include <cctype>
#include <string>
#include <vector>

namespace tgpulse::tdsim {

using nlohmann::json;

namespace {

bool word_char(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

// Number of UTF-16 code units in UTF-8 text.
int utf16_length(std::string_view s) {
  int n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    n += (c >= 0xF0) ? 2 : 1;          // 4-byte sequences are surrogate pairs
  }
  return n;
}

json entity(int offset, int length, const char* type) {
  return {{"@type", "textEntity"}, {"offset", offset}, {"length", length}, {"type", {{"@type", type}}}};
}

const char* classify(std::string_view token) {
  auto all = [&](std::size_t from, auto pred) {
    for (std::size_t i = from; i < token.size(); ++i)
      if (!pred(static_cast<unsigned char>(token[i]))) return false;
    return token.size() > from;
  };
  if (token.size() >= 4 && token[0] == '@' && all(1, [](unsigned char c) { return std::isalnum(c) || c == '_'; }))
    return "textEntityTypeMention";
  if (token.size() >= 2 && token[0] == '#' && all(1, word_char)) return "textEntityTypeHashtag";
  if (token.size() >= 2 && token.size() <= 9 && token[0] == '$' && all(1, [](unsigned char c) { return std::isupper(c) != 0; }))
    return "textEntityTypeCashtag";
  if (token.size() >= 2 && token[0] == '/' &&
      all(1, [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '@'; }))
    return "textEntityTypeBotCommand";
  auto at = token.find('@');
  if (at != std::string_view::npos && at > 0 && token.find('.', at) != std::string_view::npos &&
      token.back() != '.')
    return "textEntityTypeEmailAddress";
  if (token.rfind("http://", 0) == 0 || token.rfind("https://", 0) == 0) return "textEntityTypeUrl";
  // domain.tld[/path]: letters after the last dot of the host part
  auto host = token.substr(0, token.find('/'));
  auto dot = host.rfind('.');
  if (dot != std::string_view::npos && dot > 0 && host.size() - dot - 1 >= 2) {
    bool letters = true;
    for (auto c : host.substr(dot + 1)) letters = letters && std::isalpha(static_cast<unsigned char>(c));
    if (letters) return "textEntityTypeUrl";
  }
  return nullptr;
}

}  // namespace

json StaticFunctions::text_entities(std::string_view text) {
  json entities = json::array();
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view token = text.substr(start, i - start);
    while (!token.empty() && std::string_view(".,;:!?)\"'").find(token.back()) != std::string_view::npos) {
      token.remove_suffix(1);
    }
    if (token.empty()) continue;
    if (const char* type = classify(token)) {
      entities.push_back(entity(utf16_length(text.substr(0, start)), utf16_length(token), type));
    }
  }
  return {{"@type", "textEntities"}, {"entities", entities}};
}

json StaticFunctions::parse_markdown(std::string_view text) {
  struct Marker {
    char c;
    const char* type;
  };
  static constexpr Marker kMarkers[] = {{'*', "textEntityTypeBold"}, {'_', "textEntityTypeItalic"},
                                        {'~', "textEntityTypeStrikethrough"}, {'`', "textEntityTypeCode"}};
  std::string out;
  json entities = json::array();
  std::vector<std::pair<char, int>> open;  // marker, UTF-16 offset in `out`
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      out.push_back(text[++i]);
      continue;
    }
    const Marker* marker = nullptr;
    for (const auto& m : kMarkers) marker = m.c == c ? &m : marker;
    if (marker == nullptr) {
      out.push_back(c);
      continue;
    }
    if (!open.empty() && open.back().first == c) {
      const int begin = open.back().second;
      const int length = utf16_length(out) - begin;
      open.pop_back();
      if (length > 0) entities.push_back(entity(begin, length, marker->type));
    } else {
      open.emplace_back(c, utf16_length(out));
    }
  }
  if (!open.empty()) {
    return TdRequest::error(400, "Can't find end of the entity starting at byte offset " +
                                     std::to_string(open.back().second));
  }
  return {{"@type", "formattedText"}, {"text", out}, {"entities", entities}};
}

std::optional<json> StaticFunctions::run(const TdRequest& request) {
  const auto& o = request.object;
  const auto& t = request.type;
  if (t == "getOption") {
    auto name = o.find("name");
    if (name != o.end() && name->is_string() && *name == "version") {
      return json{{"@type", "optionValueString"}, {"value", kTdlibVersion}};
    }
    return TdRequest::error(400, "The option can't be get synchronously");
  }
  if (t == "setLogVerbosityLevel") {
    auto level = o.find("new_verbosity_level");
    int value = 0;
    if (level != o.end()) {
      if (level->is_number_integer()) {
        value = level->get<int>();
      } else {
        return TdRequest::error(400, "Failed to parse JSON object as TDLib request: Can't parse as an integer string " +
                                         level->dump());
      }
    }
    verbosity_.store(value, std::memory_order_relaxed);
    return TdRequest::ok();
  }
  if (t == "getLogVerbosityLevel") {
    return json{{"@type", "logVerbosityLevel"}, {"verbosity_level", log_verbosity()}};
  }
  if (t == "setLogStream" || t == "setLogTagVerbosityLevel" || t == "addLogMessage") return TdRequest::ok();
  if (t == "getLogStream") return json{{"@type", "logStreamDefault"}};
  if (t == "getLogTags") return json{{"@type", "logTags"}, {"tags", json::array()}};
  if (t == "getLogTagVerbosityLevel") return json{{"@type", "logVerbosityLevel"}, {"verbosity_level", log_verbosity()}};
  if (t == "getTextEntities") {
    auto text = o.find("text");
    return text_entities(text != o.end() && text->is_string() ? text->get_ref<const std::string&>() : "");
  }
  if (t == "parseTextEntities") {
    auto text = o.find("text");
    return parse_markdown(text != o.end() && text->is_string() ? text->get_ref<const std::string&>() : "");
  }
  if (t == "testReturnError") {
    auto err = o.find("error");
    if (err != o.end() && err->is_object()) return TdRequest::error(err->value("code", 0), err->value("message", ""));
    return TdRequest::error(0, "");
  }
  return std::nullopt;
}

}  // namespace tgpulse::tdsim
