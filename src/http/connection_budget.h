// Connection budget: how many connections the main listener may hold (server.max_connections) given
// the process's file-descriptor limit (RLIMIT_NOFILE), so that the descriptors the rest of the process
// needs are never taken by clients: the admin listener's probes and scrapes, the SQLite store (database,
// WAL, shared memory), TDLib clients, the log file, epoll/eventfd/timerfd and the threads' pipes.
//
//   reserve      = max(kMinFdReserve, nofile / 4)       never offered to the main listener
//   refusals     = kRefusalSlots                         connections over the cap being answered 503
//   auto default = nofile − reserve − refusals
//   largest      = nofile − kMinFdReserve − refusals     a larger explicit value is refused at start-up
//
// Header-only; thread-safe (pure functions; process_fd_limit() reads getrlimit).
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <cstddef>

namespace tgpulse::http {

// Descriptors always left to the rest of the process (admin listener, store, engine, logs, runtime).
inline constexpr std::size_t kMinFdReserve = 128;
// Connections over the cap that may be held at once while they are answered 503 (beyond: closed at once).
inline constexpr std::size_t kRefusalSlots = 32;
// Connections the admin listener serves at once (probes and scrapes; part of the reserve).
inline constexpr std::size_t kAdminMaxConnections = 32;

// The soft RLIMIT_NOFILE (what open/accept are held to); a large number when unlimited.
inline std::size_t process_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1u << 20;
  return static_cast<std::size_t>(rl.rlim_cur);
}

inline std::size_t fd_reserve(std::size_t nofile) { return std::max(kMinFdReserve, nofile / 4); }

// The largest server.max_connections that still leaves kMinFdReserve; 0 when the limit is too low.
inline std::size_t largest_max_connections(std::size_t nofile) {
  const std::size_t kept = kMinFdReserve + kRefusalSlots;
  return nofile > kept ? nofile - kept : 0;
}

// server.max_connections when not configured (0 when the limit is too low for any).
inline std::size_t default_max_connections(std::size_t nofile) {
  const std::size_t kept = fd_reserve(nofile) + kRefusalSlots;
  return nofile > kept ? nofile - kept : 0;
}

}  // namespace tgpulse::http
