#include "telemetry/metrics_slots.h"

#include <new>
#include <unordered_set>

namespace tgpulse::telemetry::detail {

constinit thread_local std::uint32_t tls_slot_index = 0;

namespace {

// Set once this thread's metrics state is destroyed: later writes (from other thread_local
// destructors) go to the shared slots instead of claiming new ones nobody would fold.
constinit thread_local bool tls_exited = false;

}  // namespace

// The process-wide list of threads that hold slots, and the children each one has a slot in.
// Every method takes its mutex; lock order: directory, then a child's mutex.
class ThreadDirectory {
 public:
  // Never destroyed: thread exits and Registry destructors may run during static destruction.
  static ThreadDirectory& instance() {
    alignas(ThreadDirectory) static unsigned char storage[sizeof(ThreadDirectory)];
    static ThreadDirectory* const directory = ::new (storage) ThreadDirectory();
    return *directory;
  }

  CacheLine* claim(ThreadSlots& child) noexcept;
  void forget(ThreadSlots& child) noexcept;
  void thread_exit(std::uint32_t index) noexcept;

 private:
  struct ThreadState {
    bool in_use = false;
    std::unordered_set<ThreadSlots*> children;  // those with a slot of this thread
  };

  std::mutex mutex_;
  std::array<ThreadState, kMaxThreads> threads_;  // guarded by mutex_; index 0 unused
};

namespace {

// The calling thread's membership in the directory; its destructor folds the thread's slots.
struct ThreadMembership {
  std::uint32_t index = 0;
  bool over_cap = false;  // every index was taken when this thread asked: it uses the shared slots
  ThreadMembership() = default;
  ThreadMembership(const ThreadMembership&) = delete;
  ThreadMembership& operator=(const ThreadMembership&) = delete;
  ~ThreadMembership() {
    tls_exited = true;
    tls_slot_index = 0;
    if (index != 0) ThreadDirectory::instance().thread_exit(index);
  }
};

}  // namespace

CacheLine* ThreadDirectory::claim(ThreadSlots& child) noexcept {
  if (tls_exited) return nullptr;
  static thread_local ThreadMembership me;
  if (me.over_cap) return nullptr;
  try {
    std::lock_guard lock(mutex_);
    if (me.index == 0) {
      for (std::uint32_t i = 1; i < kMaxThreads && me.index == 0; ++i) {
        if (!threads_[i].in_use) me.index = i;
      }
      if (me.index == 0) {
        me.over_cap = true;
        return nullptr;
      }
      threads_[me.index].in_use = true;
      tls_slot_index = me.index;
    }
    const std::uint32_t i = me.index;
    if (CacheLine* existing = child.slots_[i].load(std::memory_order_relaxed)) return existing;
    auto slot = std::make_unique<CacheLine[]>(child.lines_);
    threads_[i].children.insert(&child);
    CacheLine* raw = slot.release();  // owned by child.slots_[i] until retire() or drop() adopts it
    child.slots_[i].store(raw, std::memory_order_release);
    if (child.high_water_.load(std::memory_order_relaxed) < i) child.high_water_.store(i, std::memory_order_release);
    return raw;
  } catch (const std::bad_alloc&) {
    return nullptr;  // counted in the shared slot instead
  }
}

void ThreadDirectory::forget(ThreadSlots& child) noexcept {
  std::lock_guard lock(mutex_);
  const std::uint32_t high = child.high_water_.load(std::memory_order_relaxed);
  for (std::uint32_t i = 1; i <= high; ++i) {
    if (child.slots_[i].load(std::memory_order_relaxed) == nullptr) continue;
    threads_[i].children.erase(&child);
    child.drop(i);
  }
}

void ThreadDirectory::thread_exit(std::uint32_t index) noexcept {
  std::lock_guard lock(mutex_);
  ThreadState& t = threads_[index];
  for (ThreadSlots* child : t.children) child->retire(index);
  t.children.clear();
  t.in_use = false;
}

// ---- ThreadSlots ----

ThreadSlots::ThreadSlots(std::size_t cells)
    : cells_(cells),
      lines_((cells + 7) / 8),
      shared_(std::make_unique<CacheLine[]>(lines_)),
      retired_(cells, 0) {}

ThreadSlots::~ThreadSlots() { ThreadDirectory::instance().forget(*this); }

CacheLine* ThreadSlots::claim() noexcept { return ThreadDirectory::instance().claim(*this); }

void ThreadSlots::retire(std::uint32_t index) noexcept {
  std::unique_ptr<CacheLine[]> slot;
  {
    std::lock_guard lock(mutex_);
    slot.reset(slots_[index].load(std::memory_order_relaxed));
    const CacheLine* from = slot.get();
    for (std::size_t i = 0; i + 1 < cells_; ++i) retired_[i] += cell(from, i).load(std::memory_order_relaxed);
    const double sum = std::bit_cast<double>(retired_[cells_ - 1]) +
                       std::bit_cast<double>(cell(from, cells_ - 1).load(std::memory_order_relaxed));
    retired_[cells_ - 1] = std::bit_cast<std::uint64_t>(sum);
    slots_[index].store(nullptr, std::memory_order_relaxed);
  }
}

void ThreadSlots::drop(std::uint32_t index) noexcept {
  std::unique_ptr<CacheLine[]> slot(slots_[index].load(std::memory_order_relaxed));
  slots_[index].store(nullptr, std::memory_order_relaxed);
}

void ThreadSlots::add_cells(const CacheLine* from, std::vector<std::uint64_t>* ints, double* dbl) const {
  for (std::size_t i = 0; i + 1 < cells_; ++i) (*ints)[i] += cell(from, i).load(std::memory_order_relaxed);
  *dbl += std::bit_cast<double>(cell(from, cells_ - 1).load(std::memory_order_relaxed));
}

void ThreadSlots::snapshot(std::vector<std::uint64_t>* ints, double* dbl) const {
  ints->assign(cells_ - 1, 0);
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i + 1 < cells_; ++i) (*ints)[i] = retired_[i];
  *dbl = std::bit_cast<double>(retired_[cells_ - 1]);
  add_cells(shared_.get(), ints, dbl);
  const std::uint32_t high = high_water_.load(std::memory_order_acquire);
  for (std::uint32_t t = 1; t <= high; ++t) {
    if (const CacheLine* slot = slots_[t].load(std::memory_order_acquire)) add_cells(slot, ints, dbl);
  }
}

void add_double_shared(std::atomic<std::uint64_t>& cell, double v) noexcept {
  std::uint64_t old = cell.load(std::memory_order_relaxed);
  while (!cell.compare_exchange_weak(old, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old) + v),
                                     std::memory_order_relaxed)) {
  }
}

}  // namespace tgpulse::telemetry::detail
