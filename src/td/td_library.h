// TdLibrary: the five C functions of TDLib's JSON interface (td_json_client.h), behind an interface so
// the engine can run on the real libtdjson, on tdsim (same C ABI), or on a test double.
//
// DlopenTdLibrary loads a libtdjson-compatible shared library with dlopen(RTLD_NOW | RTLD_NODELETE) and
// never dlcloses it (TDLib's exit handlers crash when the library is unloaded). A missing file or a
// missing symbol is an Error naming the path and the symbol.
//
// Thread-safety: as TDLib's own contract. create_client_id, send and execute are thread-safe;
// receive must be called from one thread only (the engine's receive thread); the string it returns is
// valid until the next receive call. set_log_message_callback is process-wide.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"

namespace tgpulse::td {

class TdLibrary {
 public:
  // TDLib's td_log_message_callback_ptr: (verbosity level, null-terminated message).
  using LogMessageCallback = void (*)(int verbosity_level, const char* message);

  virtual ~TdLibrary() = default;
  virtual int create_client_id() = 0;
  virtual void send(int client_id, const char* request) = 0;
  // Null when nothing arrived within `timeout_seconds`.
  virtual const char* receive(double timeout_seconds) = 0;
  virtual const char* execute(const char* request) = 0;
  // `callback` may be null to remove it. Called from TDLib's threads.
  virtual void set_log_message_callback(int max_verbosity_level, LogMessageCallback callback) = 0;
  // Where the library came from (for logs and errors); "" for test doubles.
  virtual const std::string& path() const = 0;
};

class DlopenTdLibrary final : public TdLibrary {
 public:
  // Loads `path`; errors: Errc::not_found (no such file / dlopen failed, with dlerror()),
  // Errc::invalid_argument (a symbol is missing: the message names it and the path).
  static Result<std::unique_ptr<DlopenTdLibrary>> load(const std::string& path);

  int create_client_id() override;
  void send(int client_id, const char* request) override;
  const char* receive(double timeout_seconds) override;
  const char* execute(const char* request) override;
  void set_log_message_callback(int max_verbosity_level, LogMessageCallback callback) override;
  const std::string& path() const override { return path_; }

 private:
  DlopenTdLibrary() = default;
  std::string path_;
  int (*create_client_id_)() = nullptr;
  void (*send_)(int, const char*) = nullptr;
  const char* (*receive_)(double) = nullptr;
  const char* (*execute_)(const char*) = nullptr;
  void (*set_log_message_callback_)(int, LogMessageCallback) = nullptr;
};

}  // namespace tgpulse::td
