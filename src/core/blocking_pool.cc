#include "core/blocking_pool.h"

namespace tgpulse {

BlockingPool::BlockingPool(BlockingPoolOptions options)
    : options_(std::move(options)), pool_(options_.threads == 0 ? 1 : options_.threads) {}

BlockingPool::~BlockingPool() { stop(); }

void BlockingPool::stop() {
  if (stopped_.exchange(true)) return;
  pool_.join();
}

bool BlockingPool::admit() noexcept {
  if (stopped_.load(std::memory_order_acquire)) return false;
  auto n = admitted_.load(std::memory_order_relaxed);
  do {
    if (n >= options_.max_queued) return false;
  } while (!admitted_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel));
  return true;
}

Error BlockingPool::refusal() {
  if (stopped_.load(std::memory_order_acquire)) {
    return Error(Errc::unavailable, "the " + options_.name + " pool is stopped");
  }
  rejected_.fetch_add(1, std::memory_order_relaxed);
  Error full(Errc::unavailable, "the " + options_.name + " pool is full (" + std::to_string(options_.max_queued) +
                                    " jobs admitted); retry later");
  full.retry_after_s = 1;  // a job takes milliseconds: the queue has moved on by then
  return full;
}

}  // namespace tgpulse
