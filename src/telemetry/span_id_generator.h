// SpanIdGenerator: random W3C trace ids (16 bytes) and span ids (8 bytes), never all zeros. Each thread
// has its own 64-bit Mersenne Twister seeded from std::random_device (the kernel's CSPRNG on Linux), so
// ids are unpredictable across processes and generating one takes no lock.
//
// Thread-safety: thread-safe (state is per thread).
#pragma once

#include "telemetry/trace_context.h"

namespace tgpulse::telemetry {

class SpanIdGenerator {
 public:
  static TraceId new_trace_id();
  static SpanId new_span_id();
};

}  // namespace tgpulse::telemetry
