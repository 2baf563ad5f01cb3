// SpanMemoryExporter: a SpanExporter test double that keeps a copy of every exported span, for tests
// of code that makes spans (read them back after Tracer::force_flush()).
//
// Thread-safety: thread-safe (the batch processor's thread appends, the test thread reads).
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "telemetry/span_exporter.h"

namespace tgpulse::telemetry {

class SpanMemoryExporter final : public SpanExporter {
 public:
  // Shared between the exporter (owned by the Tracer) and the test.
  class Spans {
   public:
    std::vector<SpanData> snapshot() const {
      std::lock_guard lock(mu_);
      return spans_;
    }

   private:
    friend class SpanMemoryExporter;
    mutable std::mutex mu_;
    std::vector<SpanData> spans_;
  };

  explicit SpanMemoryExporter(std::shared_ptr<Spans> spans) : spans_(std::move(spans)) {}

  ExportResult export_batch(const std::vector<std::unique_ptr<SpanData>>& batch,
                            std::chrono::steady_clock::time_point) override {
    std::lock_guard lock(spans_->mu_);
    for (const auto& s : batch) spans_->spans_.push_back(*s);
    return ExportResult::success;
  }

 private:
  std::shared_ptr<Spans> spans_;
};

}  // namespace tgpulse::telemetry
