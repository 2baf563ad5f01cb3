#include "loadgen/sample_quantiles.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tgpulse::loadgen {

void SampleQuantiles::sort() const {
  if (!sorted_) {
    std::sort(values_.begin(), values_.end());
    sorted_ = true;
  }
}

double SampleQuantiles::quantile(double q) const {
  if (values_.empty()) return 0;
  sort();
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(values_.size()));
  const auto index = rank < 1 ? std::size_t{0} : static_cast<std::size_t>(rank) - 1;
  return values_[std::min(index, values_.size() - 1)];
}

double SampleQuantiles::max() const {
  if (values_.empty()) return 0;
  sort();
  return values_.back();
}

double SampleQuantiles::mean() const {
  if (values_.empty()) return 0;
  return std::accumulate(values_.begin(), values_.end(), 0.0) / static_cast<double>(values_.size());
}

}  // namespace tgpulse::loadgen
