// FloodControl: Telegram's server-side flood limits as tdsim plays them — one token bucket per
// (client, method) with the profile's rate and burst, plus waits forced through the control interface.
// decide() answers how long Telegram would make this call wait (FLOOD_WAIT_N, 0 = none); the simulator
// then applies TDLib's rule: a wait that keeps the query's total <= flood_wait_limit_seconds is absorbed
// (the answer comes late), a longer one becomes the 429 error.
//
// Thread-safety: not thread-safe; the simulator calls it under its lock.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "tdsim/profile.h"

namespace tgpulse::tdsim {

class FloodControl {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Verdict {
    int seconds = 0;     // FLOOD_WAIT_N for this call, 0 when allowed
    bool error = false;  // a forced wait that must come back as the 429, whatever its length
  };
  // The FLOOD_WAIT of this call at `now`. A flooded call takes its token in advance (Telegram counts the
  // retried call), so the next caller waits longer. A limit with rate 0 only applies forced waits.
  Verdict decide(int client_id, const std::string& method, const FloodLimit& limit, TimePoint now);
  // Gives back the token a call took when it is refused (429) instead of served late.
  void refund(int client_id, const std::string& method);
  // The next call of `method` (of `client_id`, or of any client when 0) floods with `seconds`; with
  // `as_error` it is answered with the 429 even when TDLib would absorb a wait that short (a query whose
  // earlier waits used up TDLib's limit).
  void force(const std::string& method, int client_id, int seconds, bool as_error = false);
  void forget_client(int client_id);
  std::size_t forced_count() const { return forced_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint updated{};
    bool initialised = false;
  };
  std::map<std::pair<int, std::string>, Bucket> buckets_;
  std::map<std::pair<int, std::string>, Verdict> forced_;  // (client_id or 0, method) → forced wait
};

}  // namespace tgpulse::tdsim
