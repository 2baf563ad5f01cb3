#include "telemetry/span_batch_processor.h"

#include <vector>

namespace tgpulse::telemetry {

SpanBatchProcessor::SpanBatchProcessor(std::unique_ptr<SpanExporter> exporter, SpanBatchOptions options)
    : options_(options), exporter_(std::move(exporter)) {
  thread_ = std::thread([this] { run(); });
}

SpanBatchProcessor::~SpanBatchProcessor() { shutdown(options_.export_timeout); }

void SpanBatchProcessor::on_end(std::unique_ptr<SpanData> span) noexcept {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue_size) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(span));
    ++enqueued_;
    wake = queue_.size() == options_.max_export_batch_size;  // a full batch: export now
  }
  if (wake) work_cv_.notify_one();
}

void SpanBatchProcessor::run() {
  using Clock = std::chrono::steady_clock;
  std::vector<std::unique_ptr<SpanData>> batch;
  auto next_export = Clock::now() + options_.schedule_delay;
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait_until(lock, next_export, [&] {
      return abandon_ || stopping_ || queue_.size() >= options_.max_export_batch_size ||
             (flush_target_ > completed_ && !queue_.empty());
    });
    if (abandon_) {
      dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
      completed_ += queue_.size();
      queue_.clear();
      break;
    }
    if (queue_.empty()) {
      if (stopping_) break;
      next_export = Clock::now() + options_.schedule_delay;
      continue;
    }
    std::size_t n = std::min(queue_.size(), options_.max_export_batch_size);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    ExportResult result = exporter_->export_batch(batch, Clock::now() + options_.export_timeout);
    (result == ExportResult::success ? exported_ : dropped_).fetch_add(n, std::memory_order_relaxed);
    batch.clear();
    lock.lock();
    completed_ += n;
    done_cv_.notify_all();
    next_export = Clock::now() + options_.schedule_delay;
  }
  exited_ = true;
  done_cv_.notify_all();
}

bool SpanBatchProcessor::force_flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::uint64_t target = enqueued_;
  if (completed_ >= target) return true;
  flush_target_ = std::max(flush_target_, target);
  work_cv_.notify_one();
  return done_cv_.wait_for(lock, timeout, [&] { return completed_ >= target || exited_; }) &&
         completed_ >= target;
}

void SpanBatchProcessor::shutdown(std::chrono::milliseconds timeout) {
  std::lock_guard shutdown_lock(shutdown_mu_);
  if (!thread_.joinable()) return;
  bool out_of_time = false;
  {
    std::unique_lock lock(mu_);
    stopping_ = true;
    work_cv_.notify_one();
    if (!done_cv_.wait_for(lock, timeout, [&] { return exited_; })) {
      out_of_time = true;
      abandon_ = true;  // stop exporting and drop what is left
      work_cv_.notify_one();
    }
  }
  if (out_of_time) exporter_->cancel();  // cut short an export that is retrying
  thread_.join();
}

}  // namespace tgpulse::telemetry
