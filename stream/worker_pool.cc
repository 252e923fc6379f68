#include "stream/worker_pool.h"

namespace encore {

WorkerPool::WorkerPool(int workers) : size_(workers < 1 ? 1 : workers) {
  threads_.reserve(static_cast<size_t>(size_ - 1));
  for (int i = 1; i < size_; ++i) {
    threads_.emplace_back([this, i] { ThreadMain(i); });
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  start_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::RunOnAll(const std::function<void(int)>& f) {
  if (size_ == 1) {
    f(0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    step_ = &f;
    running_ = size_ - 1;
    ++generation_;
  }
  start_.notify_all();
  f(0);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return running_ == 0; });
  step_ = nullptr;
}

void WorkerPool::ThreadMain(int worker) {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    start_.wait(lock, [&] { return shutdown_ || generation_ != seen; });
    if (shutdown_) return;
    seen = generation_;
    const std::function<void(int)>* step = step_;
    lock.unlock();
    (*step)(worker);
    lock.lock();
    if (--running_ == 0) done_.notify_one();
  }
}

}  // namespace encore
