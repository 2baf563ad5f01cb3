#include "telemetry/logger.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
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

struct Logger::Impl {
  Impl(LoggerOptions opts, std::unique_ptr<LogSink> s, const Clock& c)
      : options(std::move(opts)),
        formatter(options.format, options.service_name),
        sink(std::move(s)),
        clock(c),
        level(static_cast<int>(options.level)) {}

  void writer_loop() {
    std::vector<std::string> batch;
    std::string buffer;
    for (;;) {
      {
        std::unique_lock lock(mu);
        writer_waiting = true;
        work_cv.wait(lock, [&] { return !queue.empty() || stopping; });
        writer_waiting = false;
        if (queue.empty()) return;  // stopping, and everything is written
        batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.end()));
        queue.clear();
      }
      buffer.clear();
      for (const std::string& line : batch) buffer += line;
      bool ok = sink->write(buffer);
      sink->flush();
      {
        std::lock_guard lock(mu);
        if (ok) {
          written.fetch_add(batch.size(), std::memory_order_relaxed);
        } else {
          dropped.fetch_add(batch.size(), std::memory_order_relaxed);
        }
        completed += batch.size();
      }
      done_cv.notify_all();
      batch.clear();
    }
  }

  const LoggerOptions options;
  const LogLineFormatter formatter;
  std::unique_ptr<LogSink> sink;  // used by the writer thread only
  const Clock& clock;
  std::atomic<int> level;
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> written{0};

  std::mutex mu;
  std::condition_variable work_cv;  // writer waits for lines or stop
  std::condition_variable done_cv;  // flush() waits for progress
  std::deque<std::string> queue;    // guarded by mu
  std::uint64_t accepted = 0;       // guarded by mu: lines ever queued
  std::uint64_t completed = 0;      // guarded by mu: lines written or failed
  bool stopping = false;            // guarded by mu
  bool stopped = false;             // guarded by mu: writer joined
  bool writer_waiting = false;      // guarded by mu: only then does log() need to notify

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
  std::string line;
  line.reserve(256);
  impl_->formatter.format(&line, impl_->clock.wall(), level, message, fields, ctx);
  bool wake = false;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping || impl_->queue.size() >= impl_->options.queue_capacity) {
      impl_->dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    impl_->queue.push_back(std::move(line));
    ++impl_->accepted;
    wake = impl_->writer_waiting;
  }
  if (wake) impl_->work_cv.notify_one();  // a busy writer takes the line on its next round anyway
}

void Logger::set_level(LogLevel level) noexcept { impl_->level.store(static_cast<int>(level)); }
std::uint64_t Logger::dropped() const noexcept { return impl_->dropped.load(std::memory_order_relaxed); }
std::uint64_t Logger::written() const noexcept { return impl_->written.load(std::memory_order_relaxed); }

void Logger::flush() {
  std::unique_lock lock(impl_->mu);
  std::uint64_t target = impl_->accepted;
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
  if (impl_->writer.joinable()) impl_->writer.join();
  impl_->sink->flush();
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopped = true;
  }
  impl_->done_cv.notify_all();
}

}  // namespace tgpulse::telemetry
