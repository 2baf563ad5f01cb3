// SampleQuantiles: every observed value of a run (latencies in seconds), and their quantiles by the
// nearest-rank method (q = 0.5 → the smallest value with at least half of the samples at or below it).
// Exact, not estimated: a load run keeps at most a few million doubles.
//
// Thread-safety: not thread-safe; the load generator records from its single io_context thread.
#pragma once

#include <cstddef>
#include <vector>

namespace tgpulse::loadgen {

class SampleQuantiles {
 public:
  void add(double v) { values_.push_back(v); sorted_ = false; }
  std::size_t count() const noexcept { return values_.size(); }
  // Nearest-rank quantile, q in [0, 1]; 0 when there are no samples.
  double quantile(double q) const;
  double max() const;
  double mean() const;

 private:
  void sort() const;
  mutable std::vector<double> values_;
  mutable bool sorted_ = true;
};

}  // namespace tgpulse::loadgen
