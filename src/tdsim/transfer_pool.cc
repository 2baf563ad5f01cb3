#include "tdsim/transfer_pool.h"

namespace tgpulse::tdsim {

TransferPool::TransferPool(std::size_t threads) {
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

TransferPool::~TransferPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    tasks_.clear();
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void TransferPool::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

std::size_t TransferPool::queued() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

void TransferPool::run() {
  const Stopping stopping = [this] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task(stopping);
  }
}

}  // namespace tgpulse::tdsim
