// TransferPool: the worker threads that move file bytes for tdsim — downloads written to disk, uploads
// read and hashed, local files removed — so that td_send and td_receive never wait for the filesystem.
// A task gets a `stopping` predicate and must return soon after it turns true.
//
// Thread-safety: thread-safe. The destructor asks running tasks to stop, drops the queued ones and joins
// the threads; a task must not touch its owner after stopping() is true.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tgpulse::tdsim {

class TransferPool {
 public:
  using Stopping = std::function<bool()>;
  using Task = std::function<void(const Stopping& stopping)>;

  explicit TransferPool(std::size_t threads);
  ~TransferPool();
  TransferPool(const TransferPool&) = delete;
  TransferPool& operator=(const TransferPool&) = delete;

  void post(Task task);
  std::size_t queued() const;

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;  // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace tgpulse::tdsim
