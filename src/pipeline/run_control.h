// The shared stop of a pipelined run and its threads: the first error stops every stage (closing the queues
// between them) and becomes the run's error; each thread body is an exception boundary; all are joined on exit.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "facefill/status.h"

namespace facefill::pipeline {

class RunControl {
 public:
  // `close_queues` wakes every stage blocked on a queue; it may be called more than once.
  explicit RunControl(std::function<void()> close_queues) : close_queues_(std::move(close_queues)) {}

  // Records `status` as the run's error unless one is recorded already, and stops every stage.
  void Stop(Status status);
  // Whether Stop was called: stages stop taking work.
  bool stopped() const { return stopped_.load(); }
  // The first error given to Stop (OK when none).
  Status status() const;

 private:
  const std::function<void()> close_queues_;
  mutable std::mutex mutex_;
  Status status_;  // guarded by mutex_
  std::atomic<bool> stopped_{false};
};

// The threads of one run. Whatever leaves the function that owns it (an exception included), the run is stopped
// and every thread joined before the stages' state goes away.
class StageThreads {
 public:
  explicit StageThreads(RunControl* control) : control_(control) {}
  ~StageThreads();
  StageThreads(const StageThreads&) = delete;
  StageThreads& operator=(const StageThreads&) = delete;

  // Starts a thread running `body` inside an exception boundary named `where`: a failure or an escaped exception
  // stops the run with it. `on_exit` (may be empty) runs after the body, whatever happened: the last thread of a
  // stage closes that stage's output queue there.
  void Start(std::string where, std::function<Status()> body, std::function<void()> on_exit = {});
  // Waits for every thread started so far.
  void JoinAll();

 private:
  RunControl* control_;
  std::vector<std::thread> threads_;
};

}  // namespace facefill::pipeline
