#include "telemetry/logger.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "telemetry/log_file_sink.h"
#include "telemetry/log_line_formatter.h"

namespace tgpulse::telemetry {

bool parse_log_level(std::string_view s, LogLevel* out) noexcept {
  if (s == "trace") *out = LogLevel::trace;
  else if (s == "debug") *out = LogLevel::debug;
  else if (s == "info") *out = LogLevel::info;
  else if (s == "warn" || s == "warning") *out = LogLevel::warn;
  else if (s == "error") *out = LogLevel::error;
  else return false;
  return true;
}

const char* log_level_name(LogLevel l) noexcept {
  switch (l) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

namespace {

// The writer waits this long after the first line of a batch for more to arrive (unless the batch
// reaches kBatchWakeBytes, or flush()/shutdown() asks): one wake-up and one write per many lines.
constexpr auto kLinger = std::chrono::milliseconds(1);
constexpr std::size_t kBatchWakeBytes = 256 * 1024;
// The two batch buffers (one filling, one being written) keep their capacity, so a steady stream
// costs no allocation and no page faults; one grown beyond kKeepBufferBytes by a burst is given back
// once a batch uses less than an eighth of it (the burst is over).
constexpr std::size_t kKeepBufferBytes = 4 * 1024 * 1024;
// The producer's formatting buffer, likewise, after an unusually long line.
constexpr std::size_t kKeepLineBytes = 64 * 1024;

}  // namespace

struct Logger::Impl {
  Impl(LoggerOptions opts, std::unique_ptr<LogSink> s, const Clock& c)
      : options(std::move(opts)),
        formatter(options.format, options.service_name),
        sink(std::move(s)),
        clock(c),
        level(static_cast<int>(options.level)) {}

  // Appends one formatted line to the pending batch, or drops and counts it.
  void enqueue(std::string_view line) {
    bool wake = false;
    {
      std::unique_lock lock(mu);
      const auto full = [&] {
        return pending_lines >= options.queue_capacity ||
               (pending_lines > 0 && pending.size() + line.size() > options.queue_capacity_bytes);
      };
      if (full() && options.full_queue_wait.count() > 0 && !stopping) {
        ++space_waiters;
        if (writer_state == WriterState::lingering) work_cv.notify_one();  // write now, do not linger
        space_cv.wait_for(lock, options.full_queue_wait, [&] { return stopping || !full(); });
        --space_waiters;
      }
      if (stopping || full()) {
        dropped.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      const std::size_t before = pending.size();
      pending.append(line);
      ++pending_lines;
      ++accepted;
      // Wake an idle writer for the first line; a lingering one only when the batch grows big.
      wake = writer_state == WriterState::idle ||
             (writer_state == WriterState::lingering && before < kBatchWakeBytes && pending.size() >= kBatchWakeBytes);
    }
    if (wake) work_cv.notify_one();
  }

  void writer_loop() {
    std::string batch;
    for (;;) {
      std::size_t lines = 0;
      {
        std::unique_lock lock(mu);
        writer_state = WriterState::idle;
        work_cv.wait(lock, [&] { return pending_lines > 0 || stopping; });
        if (pending_lines == 0) return;  // stopping, and everything is written
        writer_state = WriterState::lingering;
        work_cv.wait_for(lock, kLinger, [&] {
          return stopping || flush_wanted || space_waiters > 0 || pending.size() >= kBatchWakeBytes;
        });
        writer_state = WriterState::writing;
        flush_wanted = false;
        batch.swap(pending);
        lines = pending_lines;
        pending_lines = 0;
        if (space_waiters > 0) space_cv.notify_all();
      }
      const bool ok = sink->write(batch);
      sink->flush();
      (ok ? written : dropped).fetch_add(lines, std::memory_order_relaxed);
      {
        std::lock_guard lock(mu);
        completed += lines;
      }
      done_cv.notify_all();
      if (batch.capacity() > kKeepBufferBytes && batch.size() < batch.capacity() / 8) std::string().swap(batch);
      batch.clear();
    }
  }

  enum class WriterState { idle, lingering, writing };

  const LoggerOptions options;
  const LogLineFormatter formatter;
  std::unique_ptr<LogSink> sink;  // used by the writer thread only
  const Clock& clock;
  std::atomic<int> level;
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> written{0};

  std::mutex mu;
  std::condition_variable work_cv;  // writer waits for lines, a flush or stop
  std::condition_variable done_cv;  // flush() waits for progress
  std::condition_variable space_cv; // log() waits for room (full_queue_wait)
  std::string pending;              // guarded by mu: accepted lines not yet taken by the writer
                                    // (bounded by queue_capacity_bytes)
  std::size_t pending_lines = 0;    // guarded by mu: lines in `pending` (bounded by queue_capacity)
  std::uint64_t accepted = 0;       // guarded by mu: lines ever queued
  std::uint64_t completed = 0;      // guarded by mu: lines written or failed
  bool stopping = false;            // guarded by mu
  bool stopped = false;             // guarded by mu: writer joined
  int space_waiters = 0;            // guarded by mu: callers waiting on space_cv
  bool flush_wanted = false;        // guarded by mu: flush() waits, write without lingering
  WriterState writer_state = WriterState::writing;  // guarded by mu: tells log() whether to wake it

  std::mutex shutdown_mu;  // serializes shutdown() callers
  std::thread writer;
};

namespace {

std::unique_ptr<LogSink> open_sink_or_stderr(const LoggerOptions& options, std::string* error) {
  auto sink = LogFileSink::open(options.path);
  if (sink.ok()) return std::move(sink).value();
  *error = sink.error().message;
  return std::make_unique<LogFileSink>(stderr, false);
}

}  // namespace

Logger::Logger(LoggerOptions options) {
  std::string error;
  auto sink = open_sink_or_stderr(options, &error);
  impl_ = std::make_unique<Impl>(std::move(options), std::move(sink), SystemClock::instance());
  impl_->writer = std::thread([impl = impl_.get()] { impl->writer_loop(); });
  if (!error.empty()) this->error("log file cannot be opened; logging to stderr", {{"error.message", error}});
}

Logger::Logger(LoggerOptions options, std::unique_ptr<LogSink> sink, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(sink), clock)) {
  impl_->writer = std::thread([impl = impl_.get()] { impl->writer_loop(); });
}

Logger::~Logger() { shutdown(); }

bool Logger::enabled(LogLevel level) const noexcept {
  return static_cast<int>(level) >= impl_->level.load(std::memory_order_relaxed);
}

void Logger::log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields,
                 const SpanContext* ctx) {
  if (!enabled(level)) return;
  // Formatted on the caller's thread into a buffer it keeps, so a line costs no allocation; the
  // queue then takes a copy of the bytes under its lock.
  thread_local std::string line;
  line.clear();
  impl_->formatter.format(&line, impl_->clock.wall(), level, message, fields, ctx);
  impl_->enqueue(line);
  if (line.capacity() > kKeepLineBytes) std::string().swap(line);
}

void Logger::set_level(LogLevel level) noexcept { impl_->level.store(static_cast<int>(level)); }
std::uint64_t Logger::dropped() const noexcept { return impl_->dropped.load(std::memory_order_relaxed); }
std::uint64_t Logger::written() const noexcept { return impl_->written.load(std::memory_order_relaxed); }

void Logger::flush() {
  std::unique_lock lock(impl_->mu);
  std::uint64_t target = impl_->accepted;
  if (impl_->completed >= target) return;
  impl_->flush_wanted = true;
  impl_->work_cv.notify_one();
  impl_->done_cv.wait(lock, [&] { return impl_->completed >= target || impl_->stopped; });
}

void Logger::shutdown() {
  std::lock_guard shutdown_lock(impl_->shutdown_mu);
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopping = true;
  }
  impl_->work_cv.notify_all();
  impl_->space_cv.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
  impl_->sink->flush();
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopped = true;
  }
  impl_->done_cv.notify_all();
}

}  // namespace tgpulse::telemetry
