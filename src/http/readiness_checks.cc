#include "http/readiness_checks.h"

#include <exception>
#include <stdexcept>

namespace tgpulse::http {

void ReadinessChecks::add(std::string name, Check check) {
  if (name.empty()) throw std::invalid_argument("readiness check needs a name");
  std::lock_guard lock(mu_);
  for (const auto& [n, c] : checks_) {
    if (n == name) throw std::invalid_argument("duplicate readiness check: " + name);
  }
  checks_.emplace_back(std::move(name), std::move(check));
}

std::vector<ReadinessChecks::Outcome> ReadinessChecks::run() const {
  std::vector<std::pair<std::string, Check>> checks;
  {
    std::lock_guard lock(mu_);
    checks = checks_;
  }
  std::vector<Outcome> out;
  out.reserve(checks.size());
  for (const auto& [name, check] : checks) {
    Outcome o;
    o.name = name;
    try {
      Status s = check();
      if (!s.ok()) {
        o.ok = false;
        o.message = s.error().message;
      }
    } catch (const std::exception& e) {
      o.ok = false;
      o.message = std::string("check threw: ") + e.what();
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace tgpulse::http
