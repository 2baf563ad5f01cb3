// RedisTestServer (tests only): a real redis-server (Debian's redis-server package; missing: an error
// saying to run scripts/install-deps.sh) on 127.0.0.1 and a free port, no persistence
// (--save '' --appendonly no), optionally with a password (requirepass). Stopped (SIGKILL) when
// destroyed; kill() and restart() (same port) let tests take Redis away mid-run.
//
// Thread-safety: one thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "core/result.h"

namespace tgpulse::throttle {

class RedisTestServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";

  // Starts a server and waits (at most 5 s) until it accepts connections.
  static Result<std::unique_ptr<RedisTestServer>> start(std::string password = {});
  ~RedisTestServer();
  RedisTestServer(const RedisTestServer&) = delete;
  RedisTestServer& operator=(const RedisTestServer&) = delete;

  // SIGKILLs the server and reaps it (its data is gone: nothing is persisted).
  void kill();
  // Starts it again on the same port.
  Status restart();
  // SIGSTOP / SIGCONT: the server holds its connections but answers nothing.
  void pause();
  void resume();

  int port() const noexcept { return port_; }
  std::string url(int db = 0) const { return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db); }

 private:
  RedisTestServer() = default;
  Status spawn();

  std::string password_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace tgpulse::throttle
