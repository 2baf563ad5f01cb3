// LogFileSink: the real LogSink. Writes to stdout, or appends to a file (created if missing, 0640),
// through a stdio buffer that flush() pushes to the kernel.
//
// Thread-safety: not thread-safe; owned and called by the Logger's writer thread.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "core/result.h"
#include "telemetry/log_sink.h"

namespace tgpulse::telemetry {

class LogFileSink final : public LogSink {
 public:
  // "" or "-" means stdout. An error names the path and the reason.
  static Result<std::unique_ptr<LogFileSink>> open(const std::string& path);
  // Takes `file`; closes it on destruction when `owned`.
  LogFileSink(std::FILE* file, bool owned) : file_(file), owned_(owned) {}
  ~LogFileSink() override;
  LogFileSink(const LogFileSink&) = delete;
  LogFileSink& operator=(const LogFileSink&) = delete;

  bool write(std::string_view lines) override;
  void flush() override;

 private:
  std::FILE* file_;
  bool owned_;  // false for stdout, which is not closed
};

}  // namespace tgpulse::telemetry
