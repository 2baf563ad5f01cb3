#include "telemetry/log_file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace tgpulse::telemetry {

Result<std::unique_ptr<LogFileSink>> LogFileSink::open(const std::string& path) {
  if (path.empty() || path == "-") {
    return std::make_unique<LogFileSink>(stdout, false);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Error(Errc::invalid_argument, "log file " + path + ": " + std::strerror(errno));
  }
  std::FILE* file = ::fdopen(fd, "a");
  if (file == nullptr) {
    int err = errno;
    ::close(fd);
    return Error(Errc::internal, "log file " + path + ": " + std::strerror(err));
  }
  return std::make_unique<LogFileSink>(file, true);
}

LogFileSink::~LogFileSink() {
  if (owned_) {
    std::fclose(file_);
  } else {
    std::fflush(file_);
  }
}

bool LogFileSink::write(std::string_view lines) {
  return std::fwrite(lines.data(), 1, lines.size(), file_) == lines.size();
}

void LogFileSink::flush() { std::fflush(file_); }

}  // namespace tgpulse::telemetry
