// ThreadSlots: the storage behind one Counter or Histogram child — one single-writer slot per writing
// thread, summed at scrape. Part of the metrics core (metrics.h); nothing else should need it.
//
// A slot is `cells` 64-bit cells: cells [0, cells-1) are unsigned integers (a counter's whole part, a
// histogram's buckets), the last cell is a double stored as its bits (the fractional part, the sum).
//
// Writers:
//   - mine() is the hot path: the calling thread's own slot, or null. The owning thread is the only
//     writer of its slot, so it updates a cell with a relaxed load + relaxed store (no read-modify-write,
//     no lock); a scraper reads the cells with relaxed loads, which are never torn.
//   - When mine() is null, claim() creates the thread's slot (once per thread and child: one global
//     lock). It returns null when the thread has no slot and cannot get one: the first kMaxThreads - 1
//     live threads that write metrics get a thread index, later ones (and writes from thread_local
//     destructors that run after the thread's metrics state is gone) use shared(), a slot updated with
//     atomic fetch_add / compare-exchange that any number of threads may share.
//   - When a thread exits, a thread_local destructor folds each of its slots into the child's retired
//     accumulator and frees the slot, under the child's mutex, so a concurrent scrape sees the counts
//     either in the slot or in the accumulator — never both, never neither. Its thread index is reused.
//
// Lifetimes: a child (and so its ThreadSlots) may be destroyed while threads that wrote it live on, and
// a thread may exit while the child lives on. Both paths take one process-wide lock (the directory of
// threads and the children each one has a slot in): the child's destructor removes itself from every
// live thread's list before freeing the slots; a thread's exit folds only into children still listed.
// The directory is never destroyed, so a thread (or a static Registry) that outlives main() is safe.
//
// Memory per child: the slot pointers, 8 * kMaxThreads bytes, plus for each thread that wrote it one
// slot of `cells` cells rounded up to whole 64-byte cache lines (a counter 64 B, a histogram with up
// to 6 buckets 64 B, with 7..14 buckets 128 B), plus the shared slot and the accumulator of the same size.
// So at most kMaxThreads - 1 slots per child, whatever the number of threads.
//
// Thread-safety: mine()/claim()/shared() from any thread; snapshot() from any thread (takes the
// child's mutex, never blocks writers on their slots). The destructor must not race with writers or
// scrapes of the same child (handles are valid for the Registry's lifetime).
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace tgpulse::telemetry::detail {

// Threads with their own slot, plus index 0: "no slot" (its pointer is always null).
inline constexpr std::uint32_t kMaxThreads = 64;

// The calling thread's index into every child's slot pointers; 0 until its first write claims one
// (and for threads beyond the cap, and after the thread's metrics state was destroyed).
extern constinit thread_local std::uint32_t tls_slot_index;

struct alignas(64) CacheLine {
  std::array<std::atomic<std::uint64_t>, 8> cells{};
};

class ThreadSlots {
 public:
  explicit ThreadSlots(std::size_t cells);
  ~ThreadSlots();
  ThreadSlots(const ThreadSlots&) = delete;
  ThreadSlots& operator=(const ThreadSlots&) = delete;

  // The calling thread's own slot, or null: then call claim().
  CacheLine* mine() noexcept { return slots_[tls_slot_index].load(std::memory_order_relaxed); }
  // Creates the calling thread's slot; null when it gets none (use shared()).
  CacheLine* claim() noexcept;
  CacheLine* shared() noexcept { return shared_.get(); }

  // Sums every slot, the shared slot and the retired accumulator: the integer cells into `ints`
  // (resized to cells - 1), the double cell into `*dbl`.
  void snapshot(std::vector<std::uint64_t>* ints, double* dbl) const;

 private:
  friend class ThreadDirectory;
  // Folds the slot of thread `index` into retired_ and frees it (called by the exiting thread).
  void retire(std::uint32_t index) noexcept;
  // Frees the slot of thread `index` without folding (the child is being destroyed).
  void drop(std::uint32_t index) noexcept;
  void add_cells(const CacheLine* from, std::vector<std::uint64_t>* ints, double* dbl) const;

  const std::size_t cells_;
  const std::size_t lines_;  // cache lines per slot
  // Slot of each thread index; allocated and freed (adopted back into a unique_ptr) under the
  // directory's lock, published with release stores.
  std::array<std::atomic<CacheLine*>, kMaxThreads> slots_{};
  std::atomic<std::uint32_t> high_water_{0};  // highest index that ever had a slot here
  std::unique_ptr<CacheLine[]> shared_;       // lines_ lines
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> retired_;         // guarded by mutex_; the last cell holds double bits
};

// Cell `i` of a slot (slots span whole cache lines).
inline std::atomic<std::uint64_t>& cell(CacheLine* slot, std::size_t i) noexcept { return slot[i / 8].cells[i % 8]; }
inline const std::atomic<std::uint64_t>& cell(const CacheLine* slot, std::size_t i) noexcept {
  return slot[i / 8].cells[i % 8];
}

// Relaxed single-writer updates of one's own cells.
inline void bump(std::atomic<std::uint64_t>& cell, std::uint64_t n) noexcept {
  cell.store(cell.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
void add_double_shared(std::atomic<std::uint64_t>& cell, double v) noexcept;
inline void add_double(std::atomic<std::uint64_t>& cell, double v) noexcept {
  const double d = std::bit_cast<double>(cell.load(std::memory_order_relaxed)) + v;
  cell.store(std::bit_cast<std::uint64_t>(d), std::memory_order_relaxed);
}

}  // namespace tgpulse::telemetry::detail
