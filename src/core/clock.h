// Clock: the source of time for everything that schedules or measures (throttle, flood ledger, QR
// deadlines, idle TTL). SystemClock is the real one; FakeClock is for tests and moves only when told.
//
// Thread-safety: both implementations are thread-safe.
#pragma once

#include <atomic>
#include <chrono>

namespace tgpulse {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;
  // Monotonic time, for deadlines and durations.
  virtual TimePoint now() const noexcept = 0;
  // Wall-clock time, for timestamps shown to people and stored in records.
  virtual WallTime wall() const noexcept = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const noexcept override { return std::chrono::steady_clock::now(); }
  WallTime wall() const noexcept override { return std::chrono::system_clock::now(); }
  // A process-wide instance for wiring code (not a hidden singleton: it is passed explicitly).
  static SystemClock& instance() noexcept {
    static SystemClock clock;
    return clock;
  }
};

class FakeClock final : public Clock {
 public:
  FakeClock() = default;
  TimePoint now() const noexcept override { return TimePoint(Duration(mono_ns_.load())); }
  WallTime wall() const noexcept override {
    return WallTime(std::chrono::duration_cast<WallTime::duration>(Duration(wall_ns_.load())));
  }
  void advance(Duration d) noexcept {
    mono_ns_.fetch_add(d.count());
    wall_ns_.fetch_add(d.count());
  }

 private:
  std::atomic<std::int64_t> mono_ns_{1'000'000'000};                    // starts at 1 s, never 0
  std::atomic<std::int64_t> wall_ns_{1'767'225'600'000'000'000};        // 2026-01-01T00:00:00Z
};

}  // namespace tgpulse
