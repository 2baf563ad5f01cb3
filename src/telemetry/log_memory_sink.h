// LogMemorySink: a LogSink test double that keeps every written line in memory, for tests of code that
// logs (read the lines back after Logger::flush()).
//
// Thread-safety: thread-safe (the logger's writer thread appends, the test thread reads).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/log_sink.h"

namespace tgpulse::telemetry {

class LogMemorySink final : public LogSink {
 public:
  // Shared between the sink (owned by the Logger) and the test.
  class Lines {
   public:
    std::vector<std::string> snapshot() const {
      std::lock_guard lock(mu_);
      return lines_;
    }

   private:
    friend class LogMemorySink;
    mutable std::mutex mu_;
    std::vector<std::string> lines_;  // without the trailing '\n'
  };

  explicit LogMemorySink(std::shared_ptr<Lines> lines) : lines_(std::move(lines)) {}

  bool write(std::string_view text) override {
    std::lock_guard lock(lines_->mu_);
    while (!text.empty()) {
      std::size_t end = text.find('\n');
      if (end == std::string_view::npos) end = text.size();
      lines_->lines_.emplace_back(text.substr(0, end));
      text.remove_prefix(std::min(text.size(), end + 1));
    }
    return true;
  }
  void flush() override {}

 private:
  std::shared_ptr<Lines> lines_;
};

}  // namespace tgpulse::telemetry
