// ReadinessChecks: the named checks behind GET /readyz. Areas register a check at start-up
// ("store", "engine", ...); /readyz runs every check and answers 200 when all pass, else 503 naming
// the failing ones. A check must be quick and non-blocking (read a flag, not a round trip).
// The server adds "shutdown", which fails once shutdown has begun, so load balancers drain first.
//
// Thread-safety: thread-safe; checks may be added at any time and are run concurrently from server
// threads, so a check function itself must be thread-safe.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"

namespace tgpulse::http {

class ReadinessChecks {
 public:
  // Returns ok when ready, or an Error whose message says why not (no secrets).
  using Check = std::function<Status()>;

  struct Outcome {
    std::string name;
    bool ok = true;
    std::string message;  // "" when ok
  };

  // Throws std::invalid_argument on a duplicate or empty name.
  void add(std::string name, Check check);
  // Runs every check in registration order. A check that throws counts as failing.
  std::vector<Outcome> run() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, Check>> checks_;
};

}  // namespace tgpulse::http
