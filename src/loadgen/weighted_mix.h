// WeightedMix: the mix of TDLib methods the load generator sends, each with a weight, parsed from a
// spec like "getMe=5,getChats=3,sendMessage=1". pick(u) maps a uniform number in [0, 1) to a method so
// that each is chosen with probability weight / total; the caller owns the random source (seeded, so a
// run can be repeated).
//
// Each method comes with the TDLib function object that is sent: a plausible one for the methods tdsim
// answers (getChats with a limit, sendMessage with a text, ...), {"@type": method} for any other.
//
// Thread-safety: immutable after parse(); thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tgpulse::loadgen {

struct MixEntry {
  std::string method;
  double weight = 0;
  nlohmann::json function;  // what is POSTed to /v1/sessions/{id}/invoke
};

class WeightedMix {
 public:
  // "method=weight,method=weight"; a method without "=weight" weighs 1. Weights must be positive and
  // finite; methods must be TDLib-style names (letters and digits) and appear once.
  static Result<WeightedMix> parse(std::string_view spec);
  // The function object sent for `method`.
  static nlohmann::json function_for(std::string_view method);

  // `u` in [0, 1): the entry whose cumulative-weight interval contains u × total.
  const MixEntry& pick(double u) const noexcept;
  const std::vector<MixEntry>& entries() const noexcept { return entries_; }

 private:
  std::vector<MixEntry> entries_;
  std::vector<double> cumulative_;  // cumulative_[i] = sum of weights 0..i
};

}  // namespace tgpulse::loadgen
