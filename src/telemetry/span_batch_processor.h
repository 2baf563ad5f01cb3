// SpanBatchProcessor: the OpenTelemetry batch span processor. Finished spans go into a bounded queue
// (on_end() takes a mutex for a push, never waits on I/O); one thread exports them in batches through
// a SpanExporter when a batch is full, when the schedule delay has passed, on force_flush(), and on
// shutdown(). A full queue drops the span; a failed export drops its batch; both are counted.
//
// Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "telemetry/span_exporter.h"
#include "telemetry/span_processor.h"

namespace tgpulse::telemetry {

struct SpanBatchOptions {
  // OTEL_BSP_SCHEDULE_DELAY: longest time a span waits in the queue before an export starts.
  std::chrono::milliseconds schedule_delay{5000};
  // OTEL_BSP_EXPORT_TIMEOUT: longest time one batch export (with its retries) may take.
  std::chrono::milliseconds export_timeout{30000};
  // OTEL_BSP_MAX_QUEUE_SIZE: spans held at most; more are dropped. Bounds memory when the collector
  // is away (a span is ~0.5-2 KiB).
  std::size_t max_queue_size = 2048;
  // OTEL_BSP_MAX_EXPORT_BATCH_SIZE: spans per export request; must not exceed max_queue_size.
  std::size_t max_export_batch_size = 512;
};

class SpanBatchProcessor final : public SpanProcessor {
 public:
  SpanBatchProcessor(std::unique_ptr<SpanExporter> exporter, SpanBatchOptions options);
  ~SpanBatchProcessor() override;  // shutdown(export_timeout)
  SpanBatchProcessor(const SpanBatchProcessor&) = delete;
  SpanBatchProcessor& operator=(const SpanBatchProcessor&) = delete;

  void on_end(std::unique_ptr<SpanData> span) noexcept override;
  bool force_flush(std::chrono::milliseconds timeout) override;
  void shutdown(std::chrono::milliseconds timeout) override;
  std::uint64_t dropped_spans() const noexcept override { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t exported_spans() const noexcept override { return exported_.load(std::memory_order_relaxed); }

 private:
  void run();

  const SpanBatchOptions options_;
  const std::unique_ptr<SpanExporter> exporter_;  // used by thread_ only (cancel() from anywhere)
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> exported_{0};

  std::mutex mu_;
  std::condition_variable work_cv_;  // the export thread waits for a full batch, a flush or stop
  std::condition_variable done_cv_;  // force_flush()/shutdown() wait for progress
  std::deque<std::unique_ptr<SpanData>> queue_;  // guarded by mu_
  std::uint64_t enqueued_ = 0;    // guarded by mu_: spans ever accepted
  std::uint64_t completed_ = 0;   // guarded by mu_: spans exported or dropped after acceptance
  std::uint64_t flush_target_ = 0;  // guarded by mu_: export without waiting until completed_ reaches it
  bool stopping_ = false;         // guarded by mu_: no new spans; drain and exit
  bool abandon_ = false;          // guarded by mu_: drop what is left and exit
  bool exited_ = false;           // guarded by mu_

  std::mutex shutdown_mu_;  // serializes shutdown() callers
  std::thread thread_;
};

}  // namespace tgpulse::telemetry
