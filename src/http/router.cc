#include "http/router.h"

#include <stdexcept>

namespace tgpulse::http {

namespace beast_http = boost::beast::http;

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  if (path.empty()) return out;  // "/" has no segments
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Lower rank = more specific. Literal segments earlier in the path win.
bool more_specific(const Route& a, const Route& b) {
  for (std::size_t i = 0; i < a.segments.size() && i < b.segments.size(); ++i) {
    if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
  }
  return false;
}

bool matches(const Route& r, const std::vector<std::string_view>& segs) {
  if (r.segments.size() != segs.size()) return false;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (r.segments[i].is_param) {
      if (segs[i].empty()) return false;
    } else if (r.segments[i].text != segs[i]) {
      return false;
    }
  }
  return true;
}

bool same_shape(const Route& a, const Route& b) {
  if (a.segments.size() != b.segments.size()) return false;
  for (std::size_t i = 0; i < a.segments.size(); ++i) {
    if (a.segments[i].is_param != b.segments[i].is_param) return false;
    if (!a.segments[i].is_param && a.segments[i].text != b.segments[i].text) return false;
  }
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void Router::add(beast_http::verb method, std::string_view pattern, Handler handler, RouteOptions options) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  }
  Route route;
  route.method = method;
  route.pattern = std::string(pattern);
  route.handler = std::move(handler);
  route.options = options;
  for (std::string_view seg : split_path(pattern)) {
    if (seg.empty()) throw std::invalid_argument("route pattern has an empty segment: " + std::string(pattern));
    Route::Segment s;
    if (seg.front() == '{') {
      if (seg.size() < 3 || seg.back() != '}' ||
          seg.substr(1, seg.size() - 2).find_first_of("{}") != std::string_view::npos) {
        throw std::invalid_argument("route pattern has a malformed parameter: " + std::string(pattern));
      }
      s.is_param = true;
      s.text = std::string(seg.substr(1, seg.size() - 2));
      for (const auto& prev : route.segments) {
        if (prev.is_param && prev.text == s.text) {
          throw std::invalid_argument("route pattern repeats parameter {" + s.text + "}: " + std::string(pattern));
        }
      }
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos) {
        throw std::invalid_argument("route pattern has a malformed parameter: " + std::string(pattern));
      }
      s.text = std::string(seg);
    }
    route.segments.push_back(std::move(s));
  }
  for (const auto& r : routes_) {
    if (r.method == method && same_shape(r, route)) {
      throw std::invalid_argument("duplicate route: " + std::string(beast_http::to_string(method)) + " " +
                                  std::string(pattern));
    }
  }
  route.index = routes_.size();
  routes_.push_back(std::move(route));
}

RouteMatch Router::match(beast_http::verb method, std::string_view path) const {
  RouteMatch m;
  const auto segs = split_path(path);
  if (path.empty() || path.front() != '/') return m;
  const Route* best_for_method = nullptr;
  const Route* best_any = nullptr;
  for (const auto& r : routes_) {
    if (!matches(r, segs)) continue;
    if (best_any == nullptr || more_specific(r, *best_any)) best_any = &r;
    const bool method_ok = r.method == method || (method == beast_http::verb::head && r.method == beast_http::verb::get);
    if (method_ok && (best_for_method == nullptr || more_specific(r, *best_for_method))) best_for_method = &r;
  }
  if (best_any == nullptr) return m;
  if (best_for_method != nullptr) {
    Params params;
    for (std::size_t i = 0; i < segs.size(); ++i) {
      if (!best_for_method->segments[i].is_param) continue;
      auto decoded = percent_decode(segs[i]);
      if (!decoded) {
        m.kind = RouteMatch::Kind::not_found;
        return m;
      }
      params.emplace_back(best_for_method->segments[i].text, std::move(*decoded));
    }
    m.kind = RouteMatch::Kind::found;
    m.route = best_for_method;
    m.pattern = best_for_method->pattern;
    m.params = std::move(params);
    return m;
  }
  m.kind = RouteMatch::Kind::method_not_allowed;
  m.pattern = best_any->pattern;
  bool has_get = false;
  for (const auto& r : routes_) {
    if (!same_shape(r, *best_any)) continue;
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += std::string(beast_http::to_string(r.method));
    has_get = has_get || r.method == beast_http::verb::get;
  }
  if (has_get) m.allow += ", HEAD";
  return m;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_digit(in[i + 1]);
      int lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>((hi << 4) | lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<Params> parse_query(std::string_view query) {
  Params out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

}  // namespace tgpulse::http
