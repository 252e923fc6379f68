// WorkerPool: a fixed set of threads that run one step of work in parallel.
//
//   WorkerPool pool(3);
//   pool.RunOnAll([&](int worker) { processors[worker]->HandleBatch(...); });
//   // every call has returned here; its writes are visible to the caller
//
// RunOnAll(f) calls f(i) once for every worker i, worker 0 on the calling
// thread and worker i > 0 on thread i, and returns when all calls have
// returned. Between two steps every worker is idle, so whatever a worker
// owns may also be used by the calling thread then (the pool's mutex
// orders those accesses). f must not throw.
//
// Thread safety: RunOnAll must not be called from two threads at once, nor
// from inside f.
#ifndef ENCORE_STREAM_WORKER_POOL_H_
#define ENCORE_STREAM_WORKER_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace encore {

class WorkerPool {
 public:
  // REQUIRES: workers >= 1. Starts workers - 1 threads.
  explicit WorkerPool(int workers);
  // Joins the threads. REQUIRES: no RunOnAll in progress.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return size_; }

  // Runs f(0) … f(size() - 1) in parallel and waits for all of them.
  void RunOnAll(const std::function<void(int worker)>& f);

 private:
  void ThreadMain(int worker);

  const int size_;
  std::mutex mu_;
  std::condition_variable start_;  // a new step, or shutdown
  std::condition_variable done_;   // a thread finished its part of the step
  const std::function<void(int)>* step_ = nullptr;  // guarded by mu_
  uint64_t generation_ = 0;                         // guarded by mu_
  int running_ = 0;                                 // guarded by mu_
  bool shutdown_ = false;                           // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace encore

#endif  // ENCORE_STREAM_WORKER_POOL_H_
