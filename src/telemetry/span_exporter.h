// SpanExporter: sends a batch of finished spans somewhere (the tracer's I/O boundary). The real one is
// OtlpHttpExporter (OTLP/HTTP JSON); tests use an in-memory double.
//
// Thread-safety: export_batch() is called from one thread at a time (the batch processor's thread);
// cancel() may be called from any thread while an export runs.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "telemetry/tracer.h"

namespace tgpulse::telemetry {

enum class ExportResult {
  success,  // the receiver accepted the batch
  failure,  // the batch is lost (refused, unreachable, timed out, cancelled); the caller counts it dropped
};

class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  // Sends `spans`, retrying as the implementation sees fit, but returns by `deadline`.
  virtual ExportResult export_batch(const std::vector<std::unique_ptr<SpanData>>& spans,
                                    std::chrono::steady_clock::time_point deadline) = 0;
  // Makes a running or later export_batch() give up promptly (used by a shutdown that ran out of time).
  virtual void cancel() noexcept {}
  // Why the last failed export failed, "" if none failed yet. Thread-safe.
  virtual std::string last_error() const { return {}; }
};

}  // namespace tgpulse::telemetry
