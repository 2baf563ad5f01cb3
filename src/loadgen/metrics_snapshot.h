// MetricsSnapshot: the samples of one scrape of the service's /metrics (Prometheus text format 0.0.4),
// enough for the load report: the sum of a counter over all its series, and a histogram's buckets
// (summed over its series). The difference of two snapshots gives what happened during the run; the
// histogram quantile is estimated the way PromQL's histogram_quantile does (linear inside a bucket).
//
// Thread-safety: a value type.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tgpulse::loadgen {

class MetricsSnapshot {
 public:
  // Parses the text format; comment lines and malformed lines are skipped.
  static MetricsSnapshot parse(std::string_view text);

  // Sum of every sample named exactly `name` (all label sets).
  double sum(std::string_view name) const;
  // Cumulative bucket counts of histogram `name` by upper bound (+Inf as infinity), summed over
  // series.
  std::map<double, double> buckets(std::string_view name) const;

  // histogram_quantile(q) over the bucket increase from `before` to `after`; 0 when nothing was observed.
  static double histogram_quantile(double q, const std::map<double, double>& before,
                                   const std::map<double, double>& after);

 private:
  struct Sample {
    std::string name;
    std::string labels;  // the raw text between the braces
    double value = 0;
  };
  std::vector<Sample> samples_;
};

}  // namespace tgpulse::loadgen
