// SpanSampler: decides whether a new span is sampled (recorded and exported), per the OpenTelemetry
// samplers selected by OTEL_TRACES_SAMPLER: always_on, always_off, traceidratio, and the parentbased_*
// forms, which follow a valid parent's sampled flag and use the root sampler only for new traces.
//
// traceidratio keeps a trace when the last 8 bytes of its id, read as a big-endian integer, are below
// ratio * 2^64 — deterministic per trace id, so every service that uses the same rule keeps the same
// traces.
//
// Thread-safety: immutable after construction.
#pragma once

#include <string>
#include <string_view>

#include "telemetry/trace_context.h"

namespace tgpulse::telemetry {

class SpanSampler {
 public:
  enum class Root { always_on, always_off, ratio };

  // The default: parentbased_always_on.
  SpanSampler() = default;
  // Parses an OTEL_TRACES_SAMPLER name; `ratio` is OTEL_TRACES_SAMPLER_ARG (used by the *traceidratio
  // samplers, must be in [0, 1]). On an unknown name or a bad ratio returns false and sets *error.
  static bool parse(std::string_view name, double ratio, SpanSampler* out, std::string* error);

  bool should_sample(const SpanContext* parent, const TraceId& trace_id) const noexcept;
  std::string description() const;  // e.g. "parentbased_traceidratio{0.25}"

 private:
  bool root_decision(const TraceId& trace_id) const noexcept;

  Root root_ = Root::always_on;
  bool parent_based_ = true;
  double ratio_ = 1.0;
};

}  // namespace tgpulse::telemetry
