// SpanProcessor: receives every finished recording span (Span::end()) and passes it on. The real one is
// SpanBatchProcessor (bounded queue + export thread).
//
// Thread-safety: implementations are thread-safe; on_end() is called on the request path and must not
// block on I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "telemetry/tracer.h"

namespace tgpulse::telemetry {

class SpanProcessor {
 public:
  virtual ~SpanProcessor() = default;
  virtual void on_end(std::unique_ptr<SpanData> span) noexcept = 0;
  // Exports every span ended before the call; false if `timeout` passed first.
  virtual bool force_flush(std::chrono::milliseconds timeout) = 0;
  // Exports what is queued (within `timeout`), then stops; later spans are dropped and counted.
  virtual void shutdown(std::chrono::milliseconds timeout) = 0;
  virtual std::uint64_t dropped_spans() const noexcept = 0;
  virtual std::uint64_t exported_spans() const noexcept = 0;
};

}  // namespace tgpulse::telemetry
