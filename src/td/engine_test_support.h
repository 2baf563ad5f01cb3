// Test support for engine tests: an in-memory log sink, and an io_context with its own thread plus the
// telemetry objects an Engine needs.
//
// Thread-safety: MemoryLogSink is thread-safe; EngineTestBed is used by one test at a time.
#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "telemetry/log_sink.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/telethon_metrics.h"

namespace tgpulse::td {

class MemoryLogSink final : public telemetry::LogSink {
 public:
  explicit MemoryLogSink(std::shared_ptr<std::string> text, std::shared_ptr<std::mutex> mutex)
      : text_(std::move(text)), mutex_(std::move(mutex)) {}
  bool write(std::string_view lines) override {
    std::lock_guard lock(*mutex_);
    text_->append(lines);
    return true;
  }
  void flush() override {}

 private:
  std::shared_ptr<std::string> text_;
  std::shared_ptr<std::mutex> mutex_;
};

struct EngineTestBed {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread runner{[this] { io.run(); }};
  telemetry::Registry registry;
  telemetry::TelethonMetrics telethon{registry};
  std::shared_ptr<std::string> log_text = std::make_shared<std::string>();
  std::shared_ptr<std::mutex> log_mutex = std::make_shared<std::mutex>();
  telemetry::Logger logger{telemetry::LoggerOptions{telemetry::LogLevel::debug},
                           std::make_unique<MemoryLogSink>(log_text, log_mutex)};

  ~EngineTestBed() {
    work.reset();
    io.stop();
    runner.join();
  }
  std::string logs() {
    logger.flush();
    std::lock_guard lock(*log_mutex);
    return *log_text;
  }
  std::string metrics() { return registry.expose(telemetry::ExpositionFormat::prometheus_text_004); }

  // Runs `make()` (returning an awaitable<T>) as a coroutine on the io_context (not on any client strand)
  // and waits for its value.
  template <typename Make>
  auto run(Make make) {
    using T = typename decltype(make())::value_type;
    auto future = boost::asio::co_spawn(
        io,
        [make]() -> boost::asio::awaitable<std::optional<T>> { co_return std::optional<T>(co_await make()); },
        boost::asio::use_future);
    return std::move(*future.get());
  }
};

}  // namespace tgpulse::td
