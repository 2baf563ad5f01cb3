// LogSink: where the Logger's writer thread puts formatted lines (the logger's I/O boundary). The real
// implementation is LogFileSink (stdout or an append-only file); tests use an in-memory double.
//
// Thread-safety: the Logger calls a sink from its single writer thread only; implementations need no
// locking of their own unless they are shared with other code.
#pragma once

#include <string_view>

namespace tgpulse::telemetry {

class LogSink {
 public:
  virtual ~LogSink() = default;
  // Writes `lines` (one or more complete lines, each ending in '\n'). Returns false on an I/O error.
  virtual bool write(std::string_view lines) = 0;
  // Pushes buffered bytes to the operating system.
  virtual void flush() = 0;
};

}  // namespace tgpulse::telemetry
