// RunControl and StageThreads: the first error stops the run; threads are exception boundaries, joined on exit.
#include "run_control.h"

#include "thread_boundary.h"

namespace facefill::pipeline {

void RunControl::Stop(Status status) {
  {
    std::lock_guard lock(mutex_);
    if (status_.ok()) status_ = std::move(status);
  }
  stopped_ = true;
  close_queues_();
}

Status RunControl::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

StageThreads::~StageThreads() {
  bool running = false;
  for (auto& t : threads_) running |= t.joinable();
  if (running) control_->Stop(Status(StatusCode::kInternal, "the backfill stopped unexpectedly"));
  JoinAll();
}

void StageThreads::Start(std::string where, std::function<Status()> body, std::function<void()> on_exit) {
  threads_.emplace_back([this, where = std::move(where), body = std::move(body), on_exit = std::move(on_exit)] {
    Status escaped = CatchEscapes(where, body);
    if (!escaped.ok()) control_->Stop(escaped);
    if (on_exit) on_exit();
  });
}

void StageThreads::JoinAll() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace facefill::pipeline
